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
	"time"

	"github.com/originguard/originguard/allowlist"
	"github.com/originguard/originguard/origincert"
)

// config is what the flags say.
type config struct {
	addr     string
	cert     tls.Certificate
	clientCA *x509.CertPool // nil: Cloudflare's shared origin-pull CA
	trusted  allowlist.Matcher
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

// load reads the certificate, key and client CA files.
func load(addr, certFile, keyFile, caFile string) (config, error) {
	if certFile == "" || keyFile == "" {
		return config{}, errors.New("-cert and -key are required")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return config{}, err
	}
	cfg := config{addr: addr, cert: cert}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return config{}, err
		}
		cfg.clientCA = x509.NewCertPool()
		if !cfg.clientCA.AppendCertsFromPEM(pem) {
			return config{}, fmt.Errorf("%s: no PEM certificate", caFile)
		}
	}
	return cfg, nil
}

// serve serves on ln until ctx is done, with the three layers in front of
// the handler.
func serve(ctx context.Context, ln net.Listener, cfg config) error {
	tlsConfig, err := origincert.ServerTLSConfig(cfg.cert, cfg.clientCA)
	if err != nil {
		return err
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
