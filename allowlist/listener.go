package allowlist

import (
	"net"
	"net/netip"
	"time"
)

// DefaultPeerTimeout bounds how long a [Listener] waits for the remote
// address of a connection that is not a *net.TCPConn.
const DefaultPeerTimeout = time.Second

// Listener wraps a net.Listener so that Accept returns only connections from
// trusted peers. Others are reset (SO_LINGER 0, so no TIME_WAIT is left) and
// closed before a byte is read: a cheap gate in front of TLS, whose
// handshake costs the server far more than the attacker.
//
// It must sit directly on the TCP listener (the *net.TCPListener from
// net.Listen), under TLS and under any PROXY-protocol wrapper, never above
// one: such a wrapper's RemoteAddr reads the PROXY header from the
// connection, so Accept, which judges connections one at a time, would wait
// for a client that sends nothing, and with it every other client; and it
// would judge the address the header claims, not the peer. For a
// connection that is not a *net.TCPConn, the remote address is therefore
// awaited for at most PeerTimeout, after which the connection is rejected.
//
// Use it as a value: Listener{Listener: ln, Trusted: set}. A nil Trusted
// admits no one. It is as safe for concurrent use as the wrapped listener.
type Listener struct {
	net.Listener
	// Trusted holds the peers to admit: a Set, a *Refresher, or any Matcher.
	Trusted Matcher
	// OnReject, if set, is called with the address of every rejected peer
	// (nil when it could not be read in time).
	OnReject func(peer net.Addr)
	// PeerTimeout bounds the wait for the remote address of a connection
	// that is not a *net.TCPConn; zero means [DefaultPeerTimeout].
	PeerTimeout time.Duration
}

// Accept waits for and returns the next connection from a trusted peer.
// Connections from others are closed and never returned; Accept returns an
// error only when the wrapped listener does.
func (l Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		remote := l.remoteAddr(c)
		if peer, ok := connPeer(remote); ok && l.Trusted != nil && l.Trusted.Contains(peer) {
			return c, nil
		}
		if l.OnReject != nil {
			l.OnReject(remote)
		}
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.Close()
	}
}

// remoteAddr returns c's remote address: at once for a TCP connection,
// else within PeerTimeout or nil.
func (l Listener) remoteAddr(c net.Conn) net.Addr {
	if tc, ok := c.(*net.TCPConn); ok {
		return tc.RemoteAddr()
	}
	timeout := l.PeerTimeout
	if timeout <= 0 {
		timeout = DefaultPeerTimeout
	}
	got := make(chan net.Addr, 1)
	go func() { got <- c.RemoteAddr() }()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case a := <-got:
		return a
	case <-t.C:
		return nil // the caller closes c, which unblocks a reader
	}
}

// connPeer returns the IP address of a connection's remote end.
func connPeer(a net.Addr) (netip.Addr, bool) {
	switch a := a.(type) {
	case *net.TCPAddr:
		if a == nil {
			return netip.Addr{}, false
		}
		return a.AddrPort().Addr().Unmap(), true
	case nil:
		return netip.Addr{}, false
	default:
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			return netip.Addr{}, false
		}
		return ap.Addr().Unmap(), true
	}
}
