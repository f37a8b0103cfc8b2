// Package cloudflaretest is a fake Cloudflare API v4 for tests of programs
// that use origincert, in the way client-go's fake clientset stands in for
// a Kubernetes apiserver: an httptest server that speaks the answers the
// real API gives, holds state between calls, and lets a test inject
// failures and inspect what was sent.
//
// It is for tests only. It is not imported by origincert, and nothing in it
// talks to Cloudflare.
//
// # What it serves
//
//   - the Origin CA: POST, GET (list, paged), GET one and DELETE (revoke)
//     /certificates, signing the CSR with a test root ([Server.IssuerRoots])
//     for exactly the requested lifetime, valid from the moment of issue;
//   - GET /zones?name=…;
//   - the zone settings one at a time: GET and PATCH
//     /zones/{id}/settings/{setting}. The batch GET /zones/{id}/settings is
//     refused, as Cloudflare does after its end of life (2026-09-15);
//   - Authenticated Origin Pulls at zone level (certificates and the
//     on/off setting) and per hostname (certificates and associations),
//     with the documented status progression pending_deployment → active
//     and pending_deletion → deleted.
//
// Like Cloudflare, it answers 429 with Retry-After past 1200 requests in
// 5 minutes ([WithRateLimit] changes that), and a token without
// permission on a zone ([Server.DenyZone]) gets 403 from the zone's
// endpoints and, from the Origin CA, the same "not part of your account,
// or you do not have access" as a zone of another account.
//
// Request bodies are decoded strictly: a field the API reference does not
// list, or a missing required one, is refused with HTTP 400, so a client
// that sends zero-valued extras finds out in its tests.
//
// Every answer cites, in a comment beside the code, where its shape and
// error code come from: Cloudflare's API reference, cloudflare-go
// v0.119.0's own test fixtures, or issues reported against
// cloudflare/origin-ca-issuer. Where Cloudflare documents no code, the
// comment says the fake chose one.
//
// # Certificates from the fake
//
// Certificates are signed by test roots made once per process, not by
// Cloudflare's Origin CA. Code that checks the issuer (origincert's
// NeedsRenewal and Renewer) must be told to accept them: pass
// [Server.IssuerRoots] as the Issuers field of origincert.Want or
// origincert.Renewer.
package cloudflaretest
