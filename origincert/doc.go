// Package origincert manages the transport layer between Cloudflare and a
// Kubernetes origin: Cloudflare Origin CA certificates stored as
// kubernetes.io/tls Secrets, their renewal and revocation, Authenticated
// Origin Pulls (Cloudflare proving itself to the origin with a client
// certificate), and the zone's TLS settings.
//
// An IP allowlist proves a connection came from Cloudflare's network, which
// every Cloudflare customer can send through. Authenticated Origin Pulls
// prove more, and how much depends on the certificate:
//
//   - the shared origin-pull CA ([OriginPullCA], embedded) proves only
//     "some Cloudflare zone, maybe not yours": anyone can put a zone in
//     front of your IP address and enable origin pulls;
//   - a per-zone certificate ([NewZoneClientCertificate],
//     [Client.UploadZoneClientCertificate], [Client.SetZoneOriginPulls])
//     proves "this zone": only your zone holds the client key that chains
//     to your CA;
//   - a per-hostname certificate ([Client.UploadHostnameClientCertificate],
//     [Client.SetHostnameOriginPulls]) proves "this hostname of this zone".
//
// It is not an ACME client and not a general certificate manager; it does
// not talk to Cloudflare's edge, only to its API.
//
// # Certificates
//
// [GenerateKey] makes the key locally (ECDSA P-256 by default, RSA
// 2048/3072/4096 on request) and [NewCSR] the request for the apex and
// wildcard ([ApexAndWildcard]). [Client.Issue] has the Origin CA sign it,
// with the request type matching the key and the validity rounded up to a
// value the API accepts ([RoundValidity]). The private key is held in a
// [PrivateKey], which prints as REDACTED through every fmt verb, JSON and
// slog; its material leaves the process only into a Secret's tls.key (or,
// for per-zone origin pulls, the upload to Cloudflare).
//
// # Secrets and renewal
//
// [TLSSecret] builds the Secret (tls.crt, tls.key, ca.crt with the Origin
// CA root for the key type, and annotations); [ApplySecret] writes it with
// server-side apply. [ReadSecret] and [NeedsRenewal] read it back and
// decide, with a [Reason], whether to renew. [Renewer] strings these
// together for controllers, crash-safely: issue, write, then revoke the
// replaced certificate after a grace period ([DefaultGrace] unless set)
// recorded in an annotation. The renewal window is at most a third of the
// certificate's lifetime ([RenewWindow]), so short validities do not renew
// in a loop, and a NotBefore up to [ClockSkew] ahead is tolerated. The
// Origin CA roots written as ca.crt expire at [OriginCARootsExpiry]
// (2029-08-15): certificates that outlive them, and roots close to expiry,
// are reported as warnings.
//
// # Authenticated Origin Pulls
//
// [ServerTLSConfig] makes a tls.Config for Go origins that serves the origin
// certificate and requires a client certificate from the origin-pull CA
// (or your per-zone CA), TLS 1.2 at least. [CASecret] holds the CA for
// ingress controllers. The shared CA expires at [OriginPullCAExpiry]
// (2029-11-01): alert before it.
//
// A per-zone or per-hostname client certificate needs a lifecycle:
// Cloudflare deploys a new one over minutes, asks to keep the old one
// until the new one is active, and never deletes expired ones.
// [OriginPullRotator] keeps it, crash-safely, with the CA Secret the
// origin trusts as its record: upload, wait until active, switch, delete
// the replaced one, renew before expiry. Origins must read ca.crt again
// when it changes (examples/originserver shows how).
//
//	cfg, err := origincert.ServerTLSConfig(pair, nil) // nil: Cloudflare's shared CA
//	srv := &http.Server{TLSConfig: cfg}
//	err = srv.ListenAndServeTLS("", "")
//
// # Zone posture
//
// [Client.CheckPosture] reads the zone settings one at a time (the batch
// GET /zones/{id}/settings reached its end of life on 2026-09-15) and
// reports every deviation from SSL Full (strict), minimum TLS 1.2, Always
// Use HTTPS and Authenticated Origin Pulls at the strongest level
// configured ([OriginPullLevel]: global, zone or hostname);
// [Client.EnforcePosture] sets them, switching on zone-level pulls rather
// than the shared certificate when the zone has its own.
//
// # The Cloudflare API
//
// [Client] uses github.com/cloudflare/cloudflare-go with an API token. Its
// own retries are switched off: [Client] retries reads, setting changes and
// revocations on 429, 5xx and network errors (honouring Retry-After), and
// certificate creation only on 429, never after a 5xx or a lost
// connection, which may have created it: given the zone
// (Request.ZoneID), [Client.Issue] then looks the certificate up by its
// public key and adopts it instead. Request bodies carry exactly the
// documented fields. Every failure is an [*APIError]
// matching one of [ErrUnauthorized], [ErrInvalidHostname],
// [ErrInvalidRequest], [ErrNotFound], [ErrRateLimited], [ErrServer],
// [ErrUnavailable] or [ErrMalformedResponse]. The Origin CA's expires_on
// is Go's time.String layout, not RFC 3339 ([ParseAPITime]); certificate
// expiry is taken from the certificate itself.
//
// # Testing
//
// Package cloudflaretest (origincert/cloudflaretest) is a fake Cloudflare
// API for tests of programs that embed this package, as client-go's fake
// clientset is for Kubernetes: point [NewClient] at it with [WithBaseURL]
// and accept its roots with [Want].Issuers or [Renewer].Issuers.
package origincert
