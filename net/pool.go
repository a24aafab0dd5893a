package net

import (
	stdnet "net"
	"net/netip"
)

// The unproven pool: established inbound connections that have not yet
// proven reachability (MarkProven), grouped by source IP address, each
// group in order of admission. All of it is guarded by Transport.mu.
//
// Who is evicted to admit a newcomer when MaxConns inbound connections are
// established: never a proven connection; otherwise the oldest admitted
// connection of the source holding the most unproven connections (ties: the
// source whose oldest is older). Hence:
//   - Every newcomer is admitted (unless all MaxConns are proven), and a
//     connection goes only as the oldest of the largest source, every
//     other connection of which arrived after it: from one source it
//     outlives MaxConns-1-proven later arrivals, among s sources at least
//     (MaxConns-proven)/s-1. The grace is counted in arrivals, as for the
//     greeting pool. A grace in time instead
//     (refusing newcomers while every slot is within it) would give each
//     slot that frees up to whoever connects next, and a churner connects
//     thousands of times a second while the peer redials every 100 ms.
//   - Activity buys nothing: an attacker that keeps its connections busy
//     is evicted as surely as an idle one (the order used to be least
//     recently active, which an active attacker never was).
//   - Per-source fairness: a host holding more unproven connections than
//     any other only ever replaces its own, so one host, however fast it
//     connects, cannot push another host's connection out. On loopback (and
//     behind one NAT) every connection shares one source and this does
//     nothing: the order is then simply oldest admitted first.
type srcQueue struct {
	q    []*guardedConn // in admission order; entries no longer in the pool are skipped lazily
	head int
	n    int // connections of this source in the pool
}

// sourceOf is the pool key of a remote address: its IP (IPv4-mapped IPv6
// unmapped). A remote address that is not TCP maps to the zero Addr, one
// source for all of them.
func sourceOf(a stdnet.Addr) netip.Addr {
	if ta, ok := a.(*stdnet.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// poolAdd puts a newly registered inbound connection into the unproven
// pool; t.mu held.
func (t *Transport) poolAdd(c *guardedConn) {
	sq := t.pool[c.src]
	if sq == nil {
		sq = &srcQueue{}
		t.pool[c.src] = sq
	}
	sq.q = append(sq.q, c)
	sq.n++
	c.inPool = true
	t.unproven++
}

// poolRemove takes c out of the unproven pool (proven, evicted or closed);
// t.mu held. It does nothing if c is not in it.
func (t *Transport) poolRemove(c *guardedConn) {
	if !c.inPool {
		return
	}
	c.inPool = false
	t.unproven--
	sq := t.pool[c.src]
	sq.n--
	if sq.n == 0 {
		delete(t.pool, c.src)
		return
	}
	// Skip departed entries at the front; compact when most are departed
	// (connections that closed themselves), so q stays O(n).
	for sq.head < len(sq.q) && !sq.q[sq.head].inPool {
		sq.q[sq.head] = nil
		sq.head++
	}
	if live := len(sq.q) - sq.head; live > 2*sq.n+16 {
		k := 0
		for _, x := range sq.q[sq.head:] {
			if x.inPool {
				sq.q[k] = x
				k++
			}
		}
		clear(sq.q[k:])
		sq.q, sq.head = sq.q[:k], 0
	} else if sq.head > len(sq.q)/2 {
		k := copy(sq.q, sq.q[sq.head:])
		clear(sq.q[k:])
		sq.q, sq.head = sq.q[:k], 0
	}
}

// oldest is the oldest connection of sq still in the pool.
func (sq *srcQueue) oldest() *guardedConn {
	for sq.head < len(sq.q) && !sq.q[sq.head].inPool {
		sq.q[sq.head] = nil
		sq.head++
	}
	if sq.head == len(sq.q) {
		return nil
	}
	return sq.q[sq.head]
}

// evictable returns the connection to close to admit a newcomer, or nil
// when every established inbound connection is proven (see srcQueue); t.mu
// held. Cost: one step per source holding unproven connections.
func (t *Transport) evictable() *guardedConn {
	var best *srcQueue
	var bestOld *guardedConn
	for _, sq := range t.pool {
		o := sq.oldest()
		if o == nil {
			continue
		}
		if best == nil || sq.n > best.n || (sq.n == best.n && o.id < bestOld.id) {
			best, bestOld = sq, o
		}
	}
	return bestOld
}
