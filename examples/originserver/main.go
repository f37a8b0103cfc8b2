// Command originserver is a Go origin behind Cloudflare with three layers of
// originguard in front of its handler:
//
//  1. allowlist.Listener resets connections from outside Cloudflare's ranges
//     before a byte is read, so strangers cannot even start a TLS handshake;
//  2. origincert.ServerTLSConfig serves the Origin CA certificate and demands
//     Cloudflare's client certificate (Authenticated Origin Pulls): the
//     shared origin-pull CA by default, or your zone's own CA with
//     -client-ca, which proves the request came through your zone and not
//     another customer's;
//  3. allowlist.Middleware recovers the visitor's address from
//     CF-Connecting-IP, believed only because the peer passed 1 and 2.
//
// Usage:
//
//	go run ./examples/originserver -cert origin.pem -key origin-key.pem [-client-ca zone-ca.pem] [-addr :8443]
//	go run ./examples/originserver ... -refresh   # keep the edge list current from the Cloudflare API
//
// The certificate and key are an Origin CA certificate (see package
// origincert, or the Cloudflare dashboard); every request is answered with
// the address the origin believes the visitor has.
//
// The three files are read again when they change on disk, without a
// restart: mounted from Secrets that origincert.Renewer (tls.crt, tls.key)
// and origincert.OriginPullRotator (ca.crt) keep, they change on renewal,
// and a server that read them once would go on serving a certificate
// revoked after the grace period, or refuse the zone's next client
// certificate.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/originguard/originguard/allowlist"
	"github.com/originguard/originguard/origincert"
)

// config is what the flags say.
type config struct {
	addr    string
	tls     func() (*tls.Config, error) // the current TLS config, from the files
	trusted allowlist.Matcher
}

func main() {
	addr := flag.String("addr", ":8443", "address to listen on")
	certFile := flag.String("cert", "", "origin certificate (PEM), required")
	keyFile := flag.String("key", "", "origin certificate key (PEM), required")
	caFile := flag.String("client-ca", "", "CA of your zone's origin-pull client certificate (PEM); default: Cloudflare's shared origin-pull CA")
	refresh := flag.Bool("refresh", false, "refresh Cloudflare's ranges from the API while serving")
	flag.Parse()

	cfg, err := load(*addr, *certFile, *keyFile, *caFile)
	if err != nil {
		log.Fatal("originserver: ", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	r := &allowlist.Refresher{}
	if *refresh {
		go r.Run(ctx)
	}
	cfg.trusted = r // the embedded list until a refresh replaces it

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		log.Fatal("originserver: ", err)
	}
	log.Printf("originserver: serving on %s", ln.Addr())
	if err := serve(ctx, ln, cfg); err != nil {
		log.Fatal("originserver: ", err)
	}
}

// load checks the certificate, key and client CA files once, and returns
// a config that reads them again whenever they change.
func load(addr, certFile, keyFile, caFile string) (config, error) {
	if certFile == "" || keyFile == "" {
		return config{}, errors.New("-cert and -key are required")
	}
	f := &files{cert: certFile, key: keyFile, ca: caFile}
	if _, err := f.config(); err != nil {
		return config{}, err
	}
	return config{addr: addr, tls: f.config}, nil
}

// files is the TLS config made from the certificate, key and client CA
// files, made again when one of them changes (size or modification time;
// a Secret volume swaps all of them at once). A change that does not load
// (a half-written file) keeps the previous config and is logged.
type files struct {
	cert, key, ca string

	mu    sync.Mutex
	stamp string
	cfg   *tls.Config
}

func (f *files) config() (*tls.Config, error) {
	stamp := ""
	for _, name := range []string{f.cert, f.key, f.ca} {
		if name == "" {
			continue
		}
		st, err := os.Stat(name)
		if err != nil {
			return f.keep(err)
		}
		stamp += fmt.Sprintf("%s:%d:%d;", name, st.Size(), st.ModTime().UnixNano())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cfg != nil && stamp == f.stamp {
		return f.cfg, nil
	}
	cfg, err := f.read()
	if err != nil {
		if f.cfg != nil {
			log.Printf("originserver: keeping the previous certificates: %v", err)
			return f.cfg, nil
		}
		return nil, err
	}
	f.cfg, f.stamp = cfg, stamp
	return cfg, nil
}

// keep returns the previous config when a file cannot be looked at.
func (f *files) keep(err error) (*tls.Config, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cfg != nil {
		log.Printf("originserver: keeping the previous certificates: %v", err)
		return f.cfg, nil
	}
	return nil, err
}

// read makes the TLS config from the files.
func (f *files) read() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(f.cert, f.key)
	if err != nil {
		return nil, err
	}
	var clientCA *x509.CertPool // nil: Cloudflare's shared origin-pull CA
	if f.ca != "" {
		pem, err := os.ReadFile(f.ca)
		if err != nil {
			return nil, err
		}
		clientCA = x509.NewCertPool()
		if !clientCA.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate", f.ca)
		}
	}
	return origincert.ServerTLSConfig(cert, clientCA)
}

// serve serves on ln until ctx is done, with the three layers in front of
// the handler. Each handshake uses the TLS config current at that moment.
func serve(ctx context.Context, ln net.Listener, cfg config) error {
	if _, err := cfg.tls(); err != nil {
		return err
	}
	tlsConfig := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return cfg.tls() },
	}
	edgeOnly := allowlist.Listener{Listener: ln, Trusted: cfg.trusted}
	srv := &http.Server{
		Handler:           allowlist.Middleware{Trusted: cfg.trusted}.Wrap(http.HandlerFunc(hello)),
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(tls.NewListener(edgeOnly, tlsConfig)); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// hello answers with what the origin knows of the request's origin.
func hello(w http.ResponseWriter, r *http.Request) {
	c, _ := allowlist.ClientFrom(r)
	pulled := "no client certificate"
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		pulled = "origin pull by " + r.TLS.PeerCertificates[0].Subject.CommonName
	}
	fmt.Fprintf(w, "visitor %s via edge %s (%s)\n", c.IP, c.Peer, pulled)
}
