// floor-udp: the least a user-space server spends sending a live stream as RTP/UDP datagrams on this kernel.
// One process sends, to N connected UDP sockets, the same datagrams (one shared buffer, nothing built per player)
// with one sendmmsg(2) per player per tick; a forked receiver process reads them from N sockets with epoll, as a
// load client of many players does. Each ASF packet of PACKET_BYTES goes as RTP does it: split into datagrams of
// at most MAX_DATAGRAM bytes, each with 16 bytes of RTP and payload headers. Prints one JSON line: what was sent
// and received, and the CPU of each side. Benchmark reference for RTSP/UDP (scripts/bench/wmsp-fanout.ts), loopback.
//   usage: floor-udp PLAYERS SECONDS PACKET_BYTES KBPS [MAX_DATAGRAM=1472] [TICK_MS=100]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PLAYERS 20000
#define MAX_BURST 64

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static double cpu_of(struct rusage *r, int sys) {
  struct timeval t = sys ? r->ru_stime : r->ru_utime;
  return t.tv_sec + t.tv_usec / 1e6;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: floor-udp PLAYERS SECONDS PACKET_BYTES KBPS [MAX_DATAGRAM] [TICK_MS]\n");
    return 2;
  }
  int n = atoi(argv[1]), seconds = atoi(argv[2]), packet = atoi(argv[3]), kbps = atoi(argv[4]);
  int max_datagram = argc > 5 ? atoi(argv[5]) : 1472, tick_ms = argc > 6 ? atoi(argv[6]) : 100;
  if (n < 1 || n > MAX_PLAYERS || seconds < 1 || packet < 1 || packet > 65507 || kbps < 1 || max_datagram < 17 || max_datagram > 65507 || tick_ms < 1) {
    fprintf(stderr, "floor-udp: arguments out of range\n");
    return 2;
  }
  int *rx = calloc(n, sizeof *rx), *tx = calloc(n, sizeof *tx);
  struct sockaddr_in *addr = calloc(n, sizeof *addr);
  int rcvbuf = 1 << 20;
  for (int i = 0; i < n; i++) {
    rx[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    setsockopt(rx[i], SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    addr[i].sin_family = AF_INET;
    addr[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr[i];
    if (bind(rx[i], (struct sockaddr *)&addr[i], sizeof addr[i]) < 0 || getsockname(rx[i], (struct sockaddr *)&addr[i], &len) < 0) {
      perror("floor-udp: bind");
      return 1;
    }
  }
  int report[2];
  if (pipe(report) < 0) return 1;
  pid_t child = fork();
  if (child == 0) {
    // the receiver: epoll over every socket, read until the parent says stop (SIGTERM), then report
    close(report[0]);
    int ep = epoll_create1(0);
    for (int i = 0; i < n; i++) {
      struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
      epoll_ctl(ep, EPOLL_CTL_ADD, rx[i], &ev);
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    static char buf[65536];
    struct epoll_event evs[256];
    unsigned long long datagrams = 0, bytes = 0;
    struct timespec zero = {0, 0};
    for (;;) {
      if (sigtimedwait(&set, NULL, &zero) == SIGTERM) break;
      int k = epoll_wait(ep, evs, 256, 50);
      for (int e = 0; e < k; e++) {
        ssize_t r;
        while ((r = recv(rx[evs[e].data.u32], buf, sizeof buf, 0)) > 0) {
          datagrams++;
          bytes += (unsigned long long)r;
        }
      }
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    dprintf(report[1], "%llu %llu %.3f %.3f\n", datagrams, bytes, cpu_of(&ru, 0), cpu_of(&ru, 1));
    _exit(0);
  }
  close(report[1]);
  for (int i = 0; i < n; i++) {
    close(rx[i]);
    tx[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (connect(tx[i], (struct sockaddr *)&addr[i], sizeof addr[i]) < 0) {
      perror("floor-udp: connect");
      return 1;
    }
  }
  // one shared buffer of datagrams (a packet's fragments: room for max_datagram - 16 bytes of it each); per tick
  // each player gets the packets due by the rate (fractions carried)
  int room = max_datagram - 16, per_packet = (packet + room - 1) / room;
  static char payload[65536];
  memset(payload, 0x80, sizeof payload);
  size_t sizes[MAX_BURST];
  for (int d = 0; d < MAX_BURST; d++) {
    int k = d % per_packet;
    sizes[d] = (size_t)(16 + (k < per_packet - 1 ? room : packet - room * (per_packet - 1)));
  }
  double per_tick = (kbps * 1000.0 / 8.0) * tick_ms / 1000.0 / packet, carry = 0;
  struct mmsghdr msgs[MAX_BURST];
  struct iovec iov[MAX_BURST];
  struct rusage r0, r1;
  getrusage(RUSAGE_SELF, &r0);
  double start = now_s(), next = start;
  unsigned long long sent = 0, sent_bytes = 0, eagain = 0;
  while (now_s() - start < seconds) {
    carry += per_tick;
    int packets = (int)carry;
    carry -= packets;
    int burst = packets * per_packet;
    if (burst > MAX_BURST) burst = MAX_BURST - MAX_BURST % per_packet;
    size_t burst_bytes = 0;
    for (int d = 0; d < burst; d++) {
      iov[d].iov_base = payload;
      iov[d].iov_len = sizes[d];
      burst_bytes += sizes[d];
      memset(&msgs[d], 0, sizeof msgs[d]);
      msgs[d].msg_hdr.msg_iov = &iov[d];
      msgs[d].msg_hdr.msg_iovlen = 1;
    }
    for (int i = 0; i < n && burst > 0; i++) {
      int r = sendmmsg(tx[i], msgs, (unsigned)burst, MSG_DONTWAIT);
      if (r > 0) {
        sent += (unsigned long long)r;
        if (r == burst) sent_bytes += burst_bytes;
        else for (int d = 0; d < r; d++) sent_bytes += sizes[d];
      } else if (errno == EAGAIN) {
        eagain++;
      }
    }
    next += tick_ms / 1000.0;
    double wait = next - now_s();
    if (wait > 0) {
      struct timespec ts = {(time_t)wait, (long)((wait - (time_t)wait) * 1e9)};
      nanosleep(&ts, NULL);
    }
  }
  getrusage(RUSAGE_SELF, &r1);
  double elapsed = now_s() - start;
  usleep(200000);
  kill(child, SIGTERM);
  char line[256] = {0};
  ssize_t got = read(report[0], line, sizeof line - 1);
  waitpid(child, NULL, 0);
  unsigned long long rd = 0, rb = 0;
  double ru = 0, rs = 0;
  if (got > 0) sscanf(line, "%llu %llu %lf %lf", &rd, &rb, &ru, &rs);
  printf("{\"players\":%d,\"seconds\":%.2f,\"packetBytes\":%d,\"maxDatagram\":%d,\"sentDatagrams\":%llu,\"sentBytes\":%llu,\"eagain\":%llu,"
         "\"senderUser\":%.3f,\"senderSys\":%.3f,\"receivedDatagrams\":%llu,\"receivedBytes\":%llu,\"receiverUser\":%.3f,\"receiverSys\":%.3f}\n",
         n, elapsed, packet, max_datagram, sent, sent_bytes, eagain, cpu_of(&r1, 0) - cpu_of(&r0, 0), cpu_of(&r1, 1) - cpu_of(&r0, 1), rd, rb, ru, rs);
  return 0;
}
