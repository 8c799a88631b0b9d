//! I/O drivers (feature `io`): sockets, raw Ethernet, serial ports, files.
