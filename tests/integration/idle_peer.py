"""Holds many idle TCP connections to one port from a process of its own (slowloris: nothing is
ever sent), so the test's own descriptors stay free. Run as a script:

    idle_peer.py PORT COUNT

It raises its descriptor limit, connects COUNT times, prints "holding N", then holds every
connection until its standard input closes.
"""
import resource
import socket
import sys


def main():
    port, count = int(sys.argv[1]), int(sys.argv[2])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 64), hard))
    held = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(count)]
    print("holding %d" % len(held), flush=True)
    sys.stdin.read()
    for s in held:
        s.close()


if __name__ == "__main__":
    main()
