// Package ingress generates and audits what enforces the Cloudflare edge at
// the ingress layer, per controller.
package ingress
