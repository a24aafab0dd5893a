package bench

import (
	"context"
	"errors"
	"time"

	"duet/net"
	"duet/protocol"
)

// openLoopbackPair opens two duet transports that talk to each other on
// free loopback ports and waits until both are connected.
func openLoopbackPair(ctx context.Context) (protocol.Transport, protocol.Transport, func(), error) {
	ports, err := net.FreeLoopbackPorts(2)
	if err != nil {
		return nil, nil, nil, err
	}
	a, err := net.Open(ctx, net.Config{MainPort: ports[0], SubPort: ports[1], SendTimeout: 30 * time.Second})
	if err != nil {
		return nil, nil, nil, err
	}
	b, err := net.Open(ctx, net.Config{MainPort: ports[1], SubPort: ports[0], SendTimeout: 30 * time.Second})
	if err != nil {
		a.Close()
		return nil, nil, nil, err
	}
	closeBoth := func() { a.Close(); b.Close() }
	for deadline := time.Now().Add(5 * time.Second); !a.Connected() || !b.Connected(); {
		if time.Now().After(deadline) {
			closeBoth()
			return nil, nil, nil, errors.New("bench transports did not connect")
		}
		time.Sleep(time.Millisecond)
	}
	return a, b, closeBoth, nil
}
