#!/usr/bin/env python3
"""A reference peer for duet's transport, over libzmq (Debian's python3-zmq).

It takes both socket roles duet's peer has: a ROUTER bound on SUB (duet's
DEALER dials it) and a DEALER connected to duet's MAIN port (duet's ROUTER).
Every multipart message that reaches the ROUTER is echoed, frames unchanged
and in one message, through the DEALER; so a batch duet sends comes back as
a batch. It prints "ready" once both sockets are set up, and "echoed N" per
message, and stops on stdin EOF.

usage: libzmq_peer.py HOST MAIN SUB
"""
import sys
import threading

import zmq


def main():
    host, main_port, sub_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.bind("tcp://%s:%d" % (host, sub_port))
    dealer = ctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect("tcp://%s:%d" % (host, main_port))
    stop = threading.Event()

    def watch_stdin():
        sys.stdin.read()
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    print("ready", flush=True)
    poller = zmq.Poller()
    poller.register(router, zmq.POLLIN)
    while not stop.is_set():
        if not poller.poll(100):
            continue
        msg = router.recv_multipart()
        frames = msg[1:]  # drop the routing identity
        dealer.send_multipart(frames)
        print("echoed %d" % len(frames), flush=True)
    router.close()
    dealer.close()
    ctx.term()


if __name__ == "__main__":
    main()
