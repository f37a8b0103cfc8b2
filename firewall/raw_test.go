//go:build linux

package firewall_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/originguard/originguard/internal/testbed/netns"
)

// Raw packets for what the netns harness's TCP and UDP probes cannot send:
// SCTP (the kernel here may have no SCTP stack, but netfilter tracks and
// NATs it), VRRP and other IP protocols, TCP with flags conntrack finds
// INVALID, and ICMPv6 (MLD, echo). The kernel builds the IP header; these
// helpers build what follows it.

// rawTarget keeps raw packets inside the test bed: documentation ranges,
// link-local unicast and link-local multicast only.
func rawTarget(a netip.Addr) error {
	for _, p := range []netip.Prefix{mp("192.0.2.0/24"), mp("198.51.100.0/24"), mp("203.0.113.0/24"), mp("2001:db8::/32")} {
		if p.Contains(a) {
			return nil
		}
	}
	if a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() {
		return nil
	}
	return fmt.Errorf("raw packet to %s: not a documentation or link-local address", a)
}

// network is the net.ListenPacket network for IP protocol proto in a's
// family: "ip4:132", "ip6:58".
func network(a netip.Addr, proto int) string {
	if a.Is4() {
		return "ip4:" + strconv.Itoa(proto)
	}
	return "ip6:" + strconv.Itoa(proto)
}

// sendRaw sends payload as IP protocol proto from src to dst inside ns.
// zone is the interface for link-local addresses ("" otherwise).
func sendRaw(ns *netns.Namespace, proto int, src, dst netip.Addr, zone string, payload []byte) error {
	if err := rawTarget(dst); err != nil {
		return err
	}
	return ns.Do(func() error {
		c, err := net.ListenPacket(network(dst, proto), src.WithZone(zone).String())
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.WriteTo(payload, &net.IPAddr{IP: dst.AsSlice(), Zone: zone})
		return err
	})
}

// rawListener collects the payloads of IP protocol proto that reach a raw
// socket in a namespace (after its INPUT hook).
type rawListener struct {
	mu   sync.Mutex
	got  []rawPacket
	conn net.PacketConn
}

type rawPacket struct {
	from    netip.Addr
	payload []byte
}

// listenRaw opens a raw socket for IP protocol proto on the unspecified
// address of fam (4 or 6) in ns, closed when the test ends.
func listenRaw(t *testing.T, ns *netns.Namespace, fam, proto int) *rawListener {
	t.Helper()
	l := &rawListener{}
	addr := "0.0.0.0"
	if fam == 6 {
		addr = "::"
	}
	err := ns.Do(func() (err error) {
		l.conn, err = net.ListenPacket(network(netip.MustParseAddr(addr), proto), addr)
		return err
	})
	if err != nil {
		t.Fatalf("raw socket for protocol %d: %v", proto, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, from, err := l.conn.ReadFrom(buf)
			if err != nil {
				return
			}
			a, _ := netip.AddrFromSlice(from.(*net.IPAddr).IP)
			l.mu.Lock()
			l.got = append(l.got, rawPacket{a.Unmap(), append([]byte(nil), buf[:n]...)})
			l.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.conn.Close()
		<-done
	})
	return l
}

// wait returns the first packet from src that match accepts, within d.
func (l *rawListener) wait(src netip.Addr, d time.Duration, match func([]byte) bool) (rawPacket, bool) {
	deadline := time.Now().Add(d)
	for {
		l.mu.Lock()
		for _, p := range l.got {
			if p.from == src && match(p.payload) {
				l.mu.Unlock()
				return p, true
			}
		}
		l.mu.Unlock()
		if time.Now().After(deadline) {
			return rawPacket{}, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pseudoSum is the one's-complement sum of the IPv4 or IPv6 pseudo-header
// that TCP's checksum covers.
func pseudoSum(src, dst netip.Addr, proto, length int) uint32 {
	var sum uint32
	for _, a := range []netip.Addr{src, dst} {
		b := a.AsSlice()
		for i := 0; i < len(b); i += 2 {
			sum += uint32(b[i])<<8 | uint32(b[i+1])
		}
	}
	return sum + uint32(proto) + uint32(length)
}

func fold(sum uint32, b []byte) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// TCP flags.
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpACK = 0x10
)

// tcpSegment is a TCP header without options or data, checksummed.
func tcpSegment(src, dst netip.AddrPort, seq uint32, flags byte) []byte {
	b := make([]byte, 20)
	binary.BigEndian.PutUint16(b[0:], src.Port())
	binary.BigEndian.PutUint16(b[2:], dst.Port())
	binary.BigEndian.PutUint32(b[4:], seq)
	b[12] = 5 << 4
	b[13] = flags
	binary.BigEndian.PutUint16(b[14:], 65535)
	binary.BigEndian.PutUint16(b[16:], fold(pseudoSum(src.Addr(), dst.Addr(), 6, len(b)), b))
	return b
}

// sctpInit is an SCTP packet holding one INIT chunk, with its CRC32c
// (RFC 9260: the checksum over the packet with the field zero, stored
// least significant byte first, as the kernel's sctp_compute_cksum does).
func sctpInit(srcPort, dstPort uint16, tag uint32) []byte {
	b := make([]byte, 12+20)
	binary.BigEndian.PutUint16(b[0:], srcPort)
	binary.BigEndian.PutUint16(b[2:], dstPort)
	// verification tag 0 in a packet carrying INIT
	c := b[12:]
	c[0] = 1 // INIT
	binary.BigEndian.PutUint16(c[2:], 20)
	binary.BigEndian.PutUint32(c[4:], tag)      // initiate tag
	binary.BigEndian.PutUint32(c[8:], 65536)    // a_rwnd
	binary.BigEndian.PutUint16(c[12:], 1)       // outbound streams
	binary.BigEndian.PutUint16(c[14:], 1)       // inbound streams
	binary.BigEndian.PutUint32(c[16:], tag+100) // initial TSN
	binary.LittleEndian.PutUint32(b[8:], crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// linkLocal returns the IPv6 link-local address of ifname in ns.
func linkLocal(t *testing.T, ns *netns.Namespace, ifname string) netip.Addr {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		out := ns.MustRun(t, "ip", "-6", "-o", "addr", "show", "dev", ifname, "scope", "link")
		for f := range strings.FieldsSeq(out) {
			if p, err := netip.ParsePrefix(f); err == nil && p.Addr().IsLinkLocalUnicast() {
				return p.Addr()
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no link-local address on %s:\n%s", ifname, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// snmp6 reads one counter of /proc/net/snmp6 in ns (0 if absent).
func snmp6(t *testing.T, ns *netns.Namespace, name string) int {
	t.Helper()
	for line := range strings.Lines(ns.MustRun(t, "cat", "/proc/net/snmp6")) {
		if f := strings.Fields(line); len(f) == 2 && f[0] == name {
			n, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	return 0
}

var errNoAnswer = errors.New("no answer")
