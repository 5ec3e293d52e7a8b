/*
 * mss native addon (Node-API, plain C so it needs no C++ wrapper package): what Node cannot do by itself on a board.
 *   probeV4l2(path)       -> V4L2 capabilities, formats and frame sizes of one device node, by ioctl
 *   sdNotify(path, text)  -> one datagram on systemd's notify socket (AF_UNIX/SOCK_DGRAM, which node:net lacks)
 *   sendDatagrams(fd, list, start, end) -> list[start..end) as datagrams on a connected UDP socket, sendmmsg(2): one
 *                            syscall for a pacing tick's RTP packets instead of one libuv send (and its request
 *                            object and callback) per packet. Never blocks (MSG_DONTWAIT on libuv's socket).
 *   writeMany(fds, count, data, results) -> the same bytes to fds[0..count) with one send(2) each, all in one call:
 *                            a live batch to every player of a group without a JS call, a request object and a
 *                            trip through libuv per player. Never blocks; results[i] is what fd i took or -errno.
 * Every loop is bounded (formats, sizes), every ioctl failure is reported, nothing blocks (O_NONBLOCK).
 */
#define _GNU_SOURCE /* sendmmsg */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/videodev2.h>
#include <node_api.h>

#define MAX_FORMATS 64
#define MAX_SIZES 64
#define MAX_PATH 4096
#define MAX_NOTIFY 4096
/* datagrams per sendmmsg call (the kernel takes at most UIO_MAXIOV = 1024) */
#define MAX_MMSG 64

#define CHECK(env, call)                                      \
  do {                                                        \
    if ((call) != napi_ok) {                                  \
      napi_throw_error((env), "mss-native", "napi call failed"); \
      return NULL;                                            \
    }                                                         \
  } while (0)

static napi_value throw_errno(napi_env env, const char *what, const char *path, int err) {
  char msg[MAX_PATH + 128];
  snprintf(msg, sizeof msg, "%s %s: %s", what, path, strerror(err));
  napi_value code, message, error;
  const char *name = "EIO";
  switch (err) {
    case ENOENT: name = "ENOENT"; break;
    case EACCES: name = "EACCES"; break;
    case EPERM: name = "EPERM"; break;
    case ENOTTY: name = "ENOTTY"; break;
    case EINVAL: name = "EINVAL"; break;
    case ENOSYS: name = "ENOSYS"; break; /* e.g. an ioctl qemu-user does not translate */
    case ENODEV: name = "ENODEV"; break;
    case ENXIO: name = "ENXIO"; break;
    case EBUSY: name = "EBUSY"; break;
    case ECONNREFUSED: name = "ECONNREFUSED"; break;
    case EAGAIN: name = "EAGAIN"; break;
  }
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_value errnoValue;
  napi_create_int32(env, err, &errnoValue);
  napi_set_named_property(env, error, "errno", errnoValue);
  napi_throw(env, error);
  return NULL;
}

static int get_string(napi_env env, napi_value v, char *buf, size_t cap, size_t *len) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) return -1;
  if (napi_get_value_string_utf8(env, v, buf, cap, len) != napi_ok) return -1;
  return *len >= cap - 1 ? -2 : 0;
}

static void set_str(napi_env env, napi_value obj, const char *key, const char *value, size_t max) {
  napi_value v;
  size_t n = strnlen(value, max);
  napi_create_string_utf8(env, value, n, &v);
  napi_set_named_property(env, obj, key, v);
}

static void set_lit(napi_env env, napi_value obj, const char *key, const char *value) {
  napi_value v;
  napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, key, v);
}

static void set_u32(napi_env env, napi_value obj, const char *key, uint32_t value) {
  napi_value v;
  napi_create_uint32(env, value, &v);
  napi_set_named_property(env, obj, key, v);
}

static void set_bool(napi_env env, napi_value obj, const char *key, int value) {
  napi_value v;
  napi_get_boolean(env, value != 0, &v);
  napi_set_named_property(env, obj, key, v);
}

static int xioctl(int fd, unsigned long req, void *arg) {
  int r;
  do r = ioctl(fd, req, arg);
  while (r < 0 && errno == EINTR);
  return r;
}

static napi_value frame_sizes(napi_env env, int fd, uint32_t pixfmt) {
  napi_value list;
  napi_create_array(env, &list);
  uint32_t n = 0;
  for (uint32_t i = 0; i < MAX_SIZES; i++) {
    struct v4l2_frmsizeenum fs;
    memset(&fs, 0, sizeof fs);
    fs.index = i;
    fs.pixel_format = pixfmt;
    if (xioctl(fd, VIDIOC_ENUM_FRAMESIZES, &fs) < 0) break;
    napi_value s;
    napi_create_object(env, &s);
    if (fs.type == V4L2_FRMSIZE_TYPE_DISCRETE) {
      set_lit(env, s, "kind", "discrete");
      set_u32(env, s, "width", fs.discrete.width);
      set_u32(env, s, "height", fs.discrete.height);
    } else {
      set_lit(env, s, "kind", fs.type == V4L2_FRMSIZE_TYPE_CONTINUOUS ? "continuous" : "stepwise");
      set_u32(env, s, "minWidth", fs.stepwise.min_width);
      set_u32(env, s, "maxWidth", fs.stepwise.max_width);
      set_u32(env, s, "stepWidth", fs.stepwise.step_width);
      set_u32(env, s, "minHeight", fs.stepwise.min_height);
      set_u32(env, s, "maxHeight", fs.stepwise.max_height);
      set_u32(env, s, "stepHeight", fs.stepwise.step_height);
    }
    napi_set_element(env, list, n++, s);
    if (fs.type != V4L2_FRMSIZE_TYPE_DISCRETE) break; /* one range describes them all */
  }
  return list;
}

static void enum_formats(napi_env env, int fd, uint32_t buftype, const char *typeName, napi_value out, uint32_t *count) {
  for (uint32_t i = 0; i < MAX_FORMATS && *count < MAX_FORMATS; i++) {
    struct v4l2_fmtdesc fd_;
    memset(&fd_, 0, sizeof fd_);
    fd_.index = i;
    fd_.type = buftype;
    if (xioctl(fd, VIDIOC_ENUM_FMT, &fd_) < 0) break;
    napi_value f;
    napi_create_object(env, &f);
    char fourcc[5] = {(char)(fd_.pixelformat & 0xff), (char)((fd_.pixelformat >> 8) & 0xff), (char)((fd_.pixelformat >> 16) & 0xff), (char)((fd_.pixelformat >> 24) & 0xff), 0};
    for (int k = 0; k < 4; k++)
      if (fourcc[k] < 32 || fourcc[k] > 126) fourcc[k] = '?';
    set_lit(env, f, "bufferType", typeName);
    set_str(env, f, "fourcc", fourcc, 4);
    set_str(env, f, "description", (const char *)fd_.description, sizeof fd_.description);
    set_bool(env, f, "compressed", fd_.flags & V4L2_FMT_FLAG_COMPRESSED);
    set_bool(env, f, "emulated", fd_.flags & V4L2_FMT_FLAG_EMULATED);
    napi_set_named_property(env, f, "sizes", frame_sizes(env, fd, fd_.pixelformat));
    napi_set_element(env, out, (*count)++, f);
  }
}

static napi_value probe_v4l2(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char path[MAX_PATH];
  size_t len = 0;
  if (argc < 1 || get_string(env, argv[0], path, sizeof path, &len) != 0) {
    napi_throw_type_error(env, "EINVAL", "probeV4l2(path): path must be a string shorter than 4096 bytes");
    return NULL;
  }
  int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, "open", path, errno);
  struct v4l2_capability cap;
  memset(&cap, 0, sizeof cap);
  if (xioctl(fd, VIDIOC_QUERYCAP, &cap) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "VIDIOC_QUERYCAP on", path, err);
  }
  napi_value out;
  napi_create_object(env, &out);
  set_str(env, out, "path", path, len);
  set_str(env, out, "driver", (const char *)cap.driver, sizeof cap.driver);
  set_str(env, out, "card", (const char *)cap.card, sizeof cap.card);
  set_str(env, out, "busInfo", (const char *)cap.bus_info, sizeof cap.bus_info);
  char version[32];
  snprintf(version, sizeof version, "%u.%u.%u", (cap.version >> 16) & 0xff, (cap.version >> 8) & 0xff, cap.version & 0xff);
  set_str(env, out, "version", version, sizeof version);
  uint32_t caps = (cap.capabilities & V4L2_CAP_DEVICE_CAPS) ? cap.device_caps : cap.capabilities;
  set_u32(env, out, "capabilities", caps);
  napi_value formats;
  napi_create_array(env, &formats);
  uint32_t count = 0;
  if (caps & V4L2_CAP_VIDEO_CAPTURE) enum_formats(env, fd, V4L2_BUF_TYPE_VIDEO_CAPTURE, "capture", formats, &count);
  if (caps & V4L2_CAP_VIDEO_CAPTURE_MPLANE) enum_formats(env, fd, V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, "capture-mplane", formats, &count);
  if (caps & V4L2_CAP_VIDEO_OUTPUT) enum_formats(env, fd, V4L2_BUF_TYPE_VIDEO_OUTPUT, "output", formats, &count);
  if (caps & V4L2_CAP_VIDEO_OUTPUT_MPLANE) enum_formats(env, fd, V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE, "output-mplane", formats, &count);
  if (caps & V4L2_CAP_VIDEO_M2M_MPLANE) {
    enum_formats(env, fd, V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, "capture-mplane", formats, &count);
    enum_formats(env, fd, V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE, "output-mplane", formats, &count);
  }
  if (caps & V4L2_CAP_VIDEO_M2M) {
    enum_formats(env, fd, V4L2_BUF_TYPE_VIDEO_CAPTURE, "capture", formats, &count);
    enum_formats(env, fd, V4L2_BUF_TYPE_VIDEO_OUTPUT, "output", formats, &count);
  }
  napi_set_named_property(env, out, "formats", formats);
  close(fd);
  return out;
}

/* sd_notify(3) by hand: a path socket, or an abstract one when the name starts with '@'. */
static napi_value sd_notify(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
  char text[MAX_NOTIFY];
  size_t plen = 0, tlen = 0;
  if (argc < 2 || get_string(env, argv[0], path, sizeof path, &plen) != 0 || plen == 0 || get_string(env, argv[1], text, sizeof text, &tlen) != 0) {
    napi_throw_type_error(env, "EINVAL", "sdNotify(socket, message): socket must be a path or @name of at most 107 bytes, message at most 4095 bytes");
    return NULL;
  }
  if (path[0] != '/' && path[0] != '@') {
    napi_throw_type_error(env, "EINVAL", "sdNotify: the socket must be an absolute path or an @abstract name");
    return NULL;
  }
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path, plen);
  if (path[0] == '@') addr.sun_path[0] = '\0';
  socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket for", path, errno);
  ssize_t sent;
  do sent = sendto(fd, text, tlen, MSG_NOSIGNAL, (struct sockaddr *)&addr, alen);
  while (sent < 0 && errno == EINTR);
  int err = errno;
  close(fd);
  if (sent < 0) return throw_errno(env, "sendto", path, err);
  return NULL;
}

/* Returns how many datagrams of list[start..end) the kernel took (> 0; at most MAX_MMSG a call), or -errno when it took none: -EAGAIN when the
 * socket buffer is full (the caller queues the rest for libuv), another -errno for a failed datagram (a connected
 * socket's pending ICMP error, ECONNREFUSED: the caller counts it and skips that one). */
static napi_value send_datagrams(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd = -1;
  uint32_t start = 0, end = 0, length = 0;
  bool isArray = false;
  if (argc < 4 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 || napi_is_array(env, argv[1], &isArray) != napi_ok || !isArray ||
      napi_get_value_uint32(env, argv[2], &start) != napi_ok || napi_get_value_uint32(env, argv[3], &end) != napi_ok ||
      napi_get_array_length(env, argv[1], &length) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "sendDatagrams(fd, buffers, start, end): fd a socket descriptor, buffers an array of Buffers, start and end indexes");
    return NULL;
  }
  if (end > length) end = length;
  struct mmsghdr msgs[MAX_MMSG];
  struct iovec iov[MAX_MMSG];
  uint32_t n = 0;
  for (uint32_t i = start; i < end && n < MAX_MMSG; i++, n++) {
    napi_value item;
    void *data = NULL;
    size_t len = 0;
    bool isBuffer = false;
    if (napi_get_element(env, argv[1], i, &item) != napi_ok || napi_is_buffer(env, item, &isBuffer) != napi_ok || !isBuffer ||
        napi_get_buffer_info(env, item, &data, &len) != napi_ok) {
      napi_throw_type_error(env, "EINVAL", "sendDatagrams: every element must be a Buffer");
      return NULL;
    }
    iov[n].iov_base = data;
    iov[n].iov_len = len;
    memset(&msgs[n], 0, sizeof msgs[n]);
    msgs[n].msg_hdr.msg_iov = &iov[n];
    msgs[n].msg_hdr.msg_iovlen = 1;
  }
  int sent = 0;
  if (n > 0) {
    do sent = sendmmsg(fd, msgs, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    if (sent < 0) sent = errno == EWOULDBLOCK ? -EAGAIN : -errno;
  }
  napi_value out;
  CHECK(env, napi_create_int32(env, sent, &out));
  return out;
}

/* One Buffer to many connected stream sockets: results[i] = bytes fds[i] took (possibly fewer than the length:
 * the caller queues the rest for libuv) or -errno (-EAGAIN: its buffer is full). count is bounded by both arrays. */
static napi_value write_many(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint32_t count = 0;
  bool isBuffer = false, fdsTyped = false, resultsTyped = false;
  void *data = NULL;
  size_t len = 0;
  napi_typedarray_type fdsType, resultsType;
  size_t fdsLength = 0, resultsLength = 0;
  void *fdsData = NULL, *resultsData = NULL;
  if (argc < 4 || napi_is_typedarray(env, argv[0], &fdsTyped) != napi_ok || !fdsTyped || napi_get_value_uint32(env, argv[1], &count) != napi_ok ||
      napi_is_buffer(env, argv[2], &isBuffer) != napi_ok || !isBuffer || napi_get_buffer_info(env, argv[2], &data, &len) != napi_ok ||
      napi_is_typedarray(env, argv[3], &resultsTyped) != napi_ok || !resultsTyped ||
      napi_get_typedarray_info(env, argv[0], &fdsType, &fdsLength, &fdsData, NULL, NULL) != napi_ok || fdsType != napi_int32_array ||
      napi_get_typedarray_info(env, argv[3], &resultsType, &resultsLength, &resultsData, NULL, NULL) != napi_ok || resultsType != napi_int32_array) {
    napi_throw_type_error(env, "EINVAL", "writeMany(fds, count, data, results): fds and results Int32Arrays, count a number, data a Buffer");
    return NULL;
  }
  if (count > fdsLength) count = (uint32_t)fdsLength;
  if (count > resultsLength) count = (uint32_t)resultsLength;
  const int32_t *fds = fdsData;
  int32_t *results = resultsData;
  for (uint32_t i = 0; i < count; i++) {
    ssize_t sent;
    if (fds[i] < 0) {
      results[i] = -EBADF;
      continue;
    }
    do sent = send(fds[i], data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    results[i] = sent >= 0 ? (int32_t)(sent > INT32_MAX ? INT32_MAX : sent) : (errno == EWOULDBLOCK ? -EAGAIN : -errno);
  }
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"probeV4l2", NULL, probe_v4l2, NULL, NULL, NULL, napi_default, NULL},
      {"sdNotify", NULL, sd_notify, NULL, NULL, NULL, napi_default, NULL},
      {"sendDatagrams", NULL, send_datagrams, NULL, NULL, NULL, napi_default, NULL},
      {"writeMany", NULL, write_many, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  napi_value v;
  napi_create_uint32(env, 3, &v);
  napi_set_named_property(env, exports, "abiVersion", v);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
