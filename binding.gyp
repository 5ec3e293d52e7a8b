{
  "targets": [
    {
      "target_name": "mss_native",
      "sources": ["src/native/mss_native.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"]
    }
  ]
}
