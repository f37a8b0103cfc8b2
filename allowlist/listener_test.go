package allowlist

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// TestListenerOverLoopback dials from a trusted (127.0.0.2) and an untrusted
// (127.0.0.1) loopback address: the untrusted connection is reset without
// being returned by Accept, and Accept goes on serving.
func TestListenerOverLoopback(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var rejected atomic.Int32
	ln := Listener{Listener: inner, Trusted: MustParse("127.0.0.2\n"), OnReject: func(net.Addr) { rejected.Add(1) }}
	defer ln.Close()

	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
			c.Write([]byte("hello"))
			c.Close()
		}
	}()

	dial := func(local string) (string, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 2 * time.Second}
		c, err := d.Dial("tcp", inner.Addr().String())
		if err != nil {
			return "", err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		b, err := io.ReadAll(c)
		return string(b), err
	}

	for range 3 {
		got, err := dial("127.0.0.1")
		if got != "" || err == nil && got == "hello" {
			t.Errorf("untrusted peer read %q, %v", got, err)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("untrusted peer was left hanging: %v", err)
		}
	}
	got, err := dial("127.0.0.2")
	if got != "hello" || err != nil {
		t.Fatalf("trusted peer read %q, %v", got, err)
	}
	c := <-accepted
	if c.RemoteAddr().(*net.TCPAddr).IP.String() != "127.0.0.2" {
		t.Errorf("Accept returned a connection from %v", c.RemoteAddr())
	}
	if n := rejected.Load(); n != 3 {
		t.Errorf("%d rejections, want 3", n)
	}
	select {
	case c := <-accepted:
		t.Errorf("an untrusted connection from %v was accepted", c.RemoteAddr())
	default:
	}

	ln.Close()
	if _, ok := <-accepted; ok {
		t.Error("Accept did not stop when the listener closed")
	}
}

func TestListenerNilTrustedAdmitsNoOne(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := Listener{Listener: inner}
	defer ln.Close()
	go func() {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err == nil {
			c.Close()
		}
		time.Sleep(100 * time.Millisecond)
		ln.Close()
	}()
	if c, err := ln.Accept(); err == nil {
		t.Errorf("accepted %v with no trusted set", c.RemoteAddr())
	}
}
