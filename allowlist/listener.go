package allowlist

import (
	"net"
	"net/netip"
)

// Listener wraps a net.Listener so that Accept returns only connections from
// trusted peers. Others are reset (SO_LINGER 0, so no TIME_WAIT is left) and
// closed before a byte is read: a cheap gate in front of TLS, whose
// handshake costs the server far more than the attacker.
//
// Use it as a value: Listener{Listener: ln, Trusted: set}. A nil Trusted
// admits no one. It is as safe for concurrent use as the wrapped listener.
type Listener struct {
	net.Listener
	// Trusted holds the peers to admit: a Set, a *Refresher, or any Matcher.
	Trusted Matcher
	// OnReject, if set, is called with the address of every rejected peer.
	OnReject func(peer net.Addr)
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
		if peer, ok := connPeer(c.RemoteAddr()); ok && l.Trusted != nil && l.Trusted.Contains(peer) {
			return c, nil
		}
		if l.OnReject != nil {
			l.OnReject(c.RemoteAddr())
		}
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.Close()
	}
}

// connPeer returns the IP address of a connection's remote end.
func connPeer(a net.Addr) (netip.Addr, bool) {
	switch a := a.(type) {
	case *net.TCPAddr:
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
