package allowlist

import (
	"net"
	"testing"
	"time"
)

// strAddr is a net.Addr of any network and text, as a wrapper might return.
type strAddr struct{ network, s string }

func (a strAddr) Network() string { return a.network }
func (a strAddr) String() string  { return a.s }

// TestListenerRemoteAddrForms: every form a RemoteAddr can take, judged
// against Cloudflare's ranges. Only an address inside them, in whatever
// spelling, is admitted; anything unreadable is rejected.
func TestListenerRemoteAddrForms(t *testing.T) {
	for _, tc := range []struct {
		name  string
		addr  net.Addr
		admit bool
	}{
		{"TCP v4", &net.TCPAddr{IP: net.ParseIP("104.16.0.1"), Port: 1}, true},
		{"TCP v4, 4-byte form", &net.TCPAddr{IP: net.IP{104, 16, 0, 1}, Port: 1}, true},
		{"TCP mapped", &net.TCPAddr{IP: net.ParseIP("::ffff:104.16.0.1"), Port: 1}, true},
		{"TCP v6", &net.TCPAddr{IP: net.ParseIP("2a06:98c0:3600::103"), Port: 1}, true},
		{"TCP v6 with zone", &net.TCPAddr{IP: net.ParseIP("2606:4700::1"), Port: 1, Zone: "eth0"}, true},
		{"TCP outside", &net.TCPAddr{IP: net.ParseIP("203.0.113.7"), Port: 1}, false},
		{"TCP NAT64 of an edge address", &net.TCPAddr{IP: net.ParseIP("64:ff9b::6810:1"), Port: 1}, false},
		{"TCP 6to4 of an edge address", &net.TCPAddr{IP: net.ParseIP("2002:6810:1::1"), Port: 1}, false},
		{"TCP IPv4-compatible", &net.TCPAddr{IP: net.ParseIP("::104.16.0.1"), Port: 1}, false},
		{"TCP nil IP", &net.TCPAddr{Port: 1}, false},
		{"TCP nil pointer", (*net.TCPAddr)(nil), false},
		{"nil", nil, false},
		{"unix", &net.UnixAddr{Name: "@", Net: "unix"}, false},
		{"string v4", strAddr{"tcp", "104.16.0.1:443"}, true},
		{"string mapped", strAddr{"tcp", "[::ffff:104.16.0.1]:443"}, true},
		{"string without port", strAddr{"tcp", "104.16.0.1"}, false},
		{"string with garbage", strAddr{"tcp", "104.16.0.1:443 "}, false},
		{"string leading zeros", strAddr{"tcp", "104.016.0.1:443"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conns := make(chan net.Conn, 1)
			c := addrConn{addr: tc.addr}
			conns <- c
			rejected := make(chan bool, 1)
			ln := Listener{Listener: sliceListener{conns: conns}, Trusted: Cloudflare(),
				OnReject: func(net.Addr) { rejected <- true }}
			accepted := make(chan bool, 1)
			go func() {
				ln.Accept()
				accepted <- true
			}()
			select {
			case <-accepted:
				if !tc.admit {
					t.Errorf("%v admitted", tc.addr)
				}
			case <-rejected:
				if tc.admit {
					t.Errorf("%v rejected", tc.addr)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("neither")
			}
		})
	}
}
