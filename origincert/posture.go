package origincert

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Setting is the closed vocabulary of zone settings [Client.CheckPosture]
// inspects.
type Setting string

const (
	SettingSSL            Setting = "ssl"              // want "strict" (Full (strict)); "origin_pull" is stricter and accepted
	SettingMinTLSVersion  Setting = "min_tls_version"  // want "1.2" or higher
	SettingAlwaysUseHTTPS Setting = "always_use_https" // want "on"
	SettingTLSClientAuth  Setting = "tls_client_auth"  // global origin pulls: Cloudflare's shared certificate
	// SettingZoneOriginPulls is zone-level Authenticated Origin Pulls
	// (/zones/{id}/origin_tls_client_auth/settings), which presents the
	// zone's own uploaded certificate. Not a zone setting of the settings
	// API; a deviation on it is fixed through its own endpoint.
	SettingZoneOriginPulls Setting = "origin_tls_client_auth"
	// SettingHostnameOriginPulls is one hostname's per-hostname origin
	// pulls association (/zones/{id}/origin_tls_client_auth/hostnames);
	// its deviations name the hostname.
	SettingHostnameOriginPulls Setting = "origin_tls_client_auth/hostnames"
)

// postureSettings are the zone settings read one at a time, in report
// order, with the wanted value.
var postureSettings = []struct {
	setting Setting
	want    string
	ok      func(string) bool
}{
	{SettingSSL, "strict", func(v string) bool { return v == "strict" || v == "origin_pull" }},
	{SettingMinTLSVersion, "1.2", func(v string) bool { f, err := strconv.ParseFloat(v, 64); return err == nil && f >= 1.2 }},
	{SettingAlwaysUseHTTPS, "on", func(v string) bool { return v == "on" }},
	{SettingTLSClientAuth, "on", func(v string) bool { return v == "on" }},
}

// OriginPullLevel is how much Authenticated Origin Pulls prove, weakest
// first: nothing, "some Cloudflare zone" (the shared certificate), "this
// zone" (the zone's own certificate), "this hostname".
type OriginPullLevel string

const (
	OriginPullsOff      OriginPullLevel = ""         // Cloudflare presents no client certificate
	OriginPullsGlobal   OriginPullLevel = "global"   // the shared certificate every zone can use
	OriginPullsZone     OriginPullLevel = "zone"     // the zone's own certificate
	OriginPullsHostname OriginPullLevel = "hostname" // a certificate per hostname
)

// OriginPulls is what a zone's Authenticated Origin Pulls are, at each of
// Cloudflare's three levels. A plain value; the zero value is "all off".
type OriginPulls struct {
	Global bool // tls_client_auth is on: the shared certificate
	Zone   bool // zone-level origin pulls are enabled
	// ZoneCertificateID is an active zone-level certificate of the zone's
	// own; "" means zone level presents the shared certificate.
	ZoneCertificateID string
	// Hostnames maps each hostname asked about to whether an enabled
	// per-hostname association with an active certificate covers it.
	Hostnames map[string]bool
	// HostnameCertificates maps each hostname asked about whose
	// association (enabled or not) names an active certificate to that
	// certificate's ID: configured, if perhaps switched off.
	HostnameCertificates map[string]string
}

// configured is the strongest level set up, whether switched on or not.
func (o OriginPulls) configured() OriginPullLevel {
	if len(o.Hostnames) > 0 {
		all := true
		for h := range o.Hostnames {
			all = all && (o.Hostnames[h] || o.HostnameCertificates[h] != "")
		}
		if all {
			return OriginPullsHostname
		}
	}
	if o.ZoneCertificateID != "" {
		return OriginPullsZone
	}
	return OriginPullsGlobal
}

// Level is the strongest level in force: hostname when every hostname
// asked about has its own active certificate, zone when zone level is on
// with the zone's own active certificate, global when either the global
// setting or zone level (without its own certificate) presents the shared
// one.
func (o OriginPulls) Level() OriginPullLevel {
	if len(o.Hostnames) > 0 {
		all := true
		for _, on := range o.Hostnames {
			all = all && on
		}
		if all {
			return OriginPullsHostname
		}
	}
	switch {
	case o.Zone && o.ZoneCertificateID != "":
		return OriginPullsZone
	case o.Global || o.Zone:
		return OriginPullsGlobal
	}
	return OriginPullsOff
}

// Deviation is one zone setting that is not at its secure value. Got is
// "" when the zone did not report the setting. Hostname is set for
// [SettingHostnameOriginPulls] only.
type Deviation struct {
	Setting  Setting
	Want     string
	Got      string
	Hostname string
}

// String says which setting deviates, what it is and what it should be.
func (d Deviation) String() string {
	got := d.Got
	if got == "" {
		got = "(not reported)"
	}
	if d.Hostname != "" {
		return fmt.Sprintf("%s of %s is %s, want %s", d.Setting, d.Hostname, got, d.Want)
	}
	return fmt.Sprintf("%s is %s, want %s", d.Setting, got, d.Want)
}

// Posture (a plain value) is a zone's TLS posture: the settings as read,
// the origin pulls at each level, and every deviation from the secure set
// (SSL Full (strict), minimum TLS 1.2, Always Use HTTPS, Authenticated
// Origin Pulls at the strongest level configured), in that order.
type Posture struct {
	ZoneID      string
	Settings    map[Setting]string
	OriginPulls OriginPulls
	Deviations  []Deviation
}

// Secure reports whether there are no deviations.
func (p Posture) Secure() bool { return len(p.Deviations) == 0 }

// EvaluatePosture compares setting values (as the zone settings API
// returns them) and the origin pulls with the secure set. It is pure;
// [Client.CheckPosture] feeds it.
//
// Origin pulls are judged at the strongest level configured: when every
// hostname asked about has a per-hostname certificate, each association
// switched off deviates on [SettingHostnameOriginPulls]; else, when the
// zone has its own active certificate, zone level off deviates on
// [SettingZoneOriginPulls] (turn that on, not the weaker shared
// certificate); else no origin pulls at all deviate on
// [SettingTLSClientAuth]. A level in force makes the weaker ones
// unnecessary.
func EvaluatePosture(zoneID string, settings map[Setting]string, pulls OriginPulls) Posture {
	p := Posture{ZoneID: zoneID, Settings: map[Setting]string{}, OriginPulls: pulls}
	for _, s := range postureSettings {
		got, ok := settings[s.setting]
		if ok {
			p.Settings[s.setting] = got
		}
		if s.setting == SettingTLSClientAuth {
			continue
		}
		if !ok || !s.ok(got) {
			p.Deviations = append(p.Deviations, Deviation{Setting: s.setting, Want: s.want, Got: got})
		}
	}
	switch configured := pulls.configured(); {
	case configured == OriginPullsHostname:
		for _, h := range slices.Sorted(maps.Keys(pulls.Hostnames)) {
			if !pulls.Hostnames[h] {
				p.Deviations = append(p.Deviations, Deviation{Setting: SettingHostnameOriginPulls, Want: "on", Got: "off", Hostname: h})
			}
		}
	case configured == OriginPullsZone:
		if !pulls.Zone {
			p.Deviations = append(p.Deviations, Deviation{Setting: SettingZoneOriginPulls, Want: "on", Got: "off"})
		}
	case pulls.Level() == OriginPullsOff:
		p.Deviations = append(p.Deviations, Deviation{Setting: SettingTLSClientAuth, Want: "on", Got: settings[SettingTLSClientAuth]})
	}
	return p
}

// settingResult is a zone setting as GET/PATCH /zones/{id}/settings/{id}
// return it.
type settingResult struct {
	ID    string `json:"id"`
	Value any    `json:"value"`
}

// getSetting reads one zone setting (GET /zones/{id}/settings/{setting}).
// The batch GET /zones/{id}/settings reached its end of life on
// 2026-09-15.
func (c *Client) getSetting(ctx context.Context, zoneID string, s Setting) (string, error) {
	op := fmt.Sprintf("read setting %s of zone %s", s, zoneID)
	var res settingResult
	err := c.call(ctx, op, retrySafe, func(ctx context.Context, ex *exchange) error {
		res = settingResult{}
		return c.raw(ctx, ex, op, http.MethodGet, zonePath(zoneID, "settings", string(s)), nil, &res, nil)
	})
	if err != nil {
		return "", err
	}
	switch v := res.Value.(type) {
	case string:
		return v, nil
	case nil:
		return "", nil
	default:
		return fmt.Sprint(v), nil
	}
}

func zonePath(zoneID string, parts ...string) string {
	p := "/zones/" + url.PathEscape(zoneID)
	for _, s := range parts {
		p += "/" + url.PathEscape(s)
	}
	return p
}

// zoneCertificate is a zone-level or hostname client certificate as the
// origin_tls_client_auth endpoints return it.
type zoneCertificate struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	ExpiresOn   string `json:"expires_on"`
	Certificate string `json:"certificate"`
}

// OriginPulls reads a zone's Authenticated Origin Pulls at the three
// levels: the global setting, the zone-level setting and its active
// certificate, and the per-hostname association of each hostname given.
func (c *Client) OriginPulls(ctx context.Context, zoneID string, hostnames ...string) (OriginPulls, error) {
	if zoneID == "" {
		return OriginPulls{}, fmt.Errorf("origincert: read origin pulls: empty zone ID: %w", ErrInvalidRequest)
	}
	global, err := c.getSetting(ctx, zoneID, SettingTLSClientAuth)
	if err != nil {
		return OriginPulls{}, err
	}
	return c.originPulls(ctx, zoneID, global, hostnames)
}

// originPulls reads the zone and hostname levels; global is the
// tls_client_auth value already read.
func (c *Client) originPulls(ctx context.Context, zoneID, global string, hostnames []string) (OriginPulls, error) {
	// A zone-level read the API answers with "not found" means the
	// feature is not set up: reported as off, which errs towards a
	// deviation, never towards "secure".
	out := OriginPulls{Global: global == "on"}
	var err error
	if out.Zone, err = c.ZoneOriginPulls(ctx, zoneID); err != nil && !errors.Is(err, ErrNotFound) {
		return out, err
	}
	certs, err := c.zoneClientCertificates(ctx, zoneID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return out, err
	}
	for _, zc := range certs {
		if zc.Status == "active" {
			out.ZoneCertificateID = zc.ID
		}
	}
	if len(hostnames) > 0 {
		hs, err := normalizeHostnames(hostnames)
		if err != nil {
			return out, err
		}
		out.Hostnames = map[string]bool{}
		out.HostnameCertificates = map[string]string{}
		for _, h := range hs {
			a, err := c.hostnameOriginPulls(ctx, zoneID, h)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return out, err
			}
			active := err == nil && a.CertID != "" && a.CertStatus == ClientCertActive
			out.Hostnames[h] = active && a.Enabled != nil && *a.Enabled
			if active {
				out.HostnameCertificates[h] = a.CertID
			}
		}
	}
	return out, nil
}

// zoneClientCertificates lists the zone-level client certificates (GET
// /zones/{id}/origin_tls_client_auth).
func (c *Client) zoneClientCertificates(ctx context.Context, zoneID string) ([]zoneCertificate, error) {
	op := "list origin-pull certificates of zone " + zoneID
	var res []zoneCertificate
	err := c.call(ctx, op, retrySafe, func(ctx context.Context, ex *exchange) error {
		res = nil
		return c.raw(ctx, ex, op, http.MethodGet, zonePath(zoneID, "origin_tls_client_auth"), nil, &res, nil)
	})
	return res, err
}

// hostnameAssociation is GET /zones/{id}/origin_tls_client_auth/hostnames/{hostname}.
type hostnameAssociation struct {
	Hostname   string `json:"hostname"`
	CertID     string `json:"cert_id"`
	Enabled    *bool  `json:"enabled"`
	CertStatus string `json:"cert_status"`
}

func (c *Client) hostnameOriginPulls(ctx context.Context, zoneID, hostname string) (hostnameAssociation, error) {
	op := fmt.Sprintf("read origin pulls of %s in zone %s", hostname, zoneID)
	var res hostnameAssociation
	err := c.call(ctx, op, retrySafe, func(ctx context.Context, ex *exchange) error {
		res = hostnameAssociation{}
		return c.raw(ctx, ex, op, http.MethodGet, zonePath(zoneID, "origin_tls_client_auth", "hostnames", hostname), nil, &res, nil)
	})
	return res, err
}

// CheckPosture reads the zone's settings one at a time (GET
// /zones/{id}/settings/{setting}: the batch GET /zones/{id}/settings was
// deprecated on 2025-04-23 and reached its end of life on 2026-09-15),
// and its origin pulls at every level ([Client.OriginPulls], per-hostname
// for the hostnames given), and reports every deviation from the secure
// set.
func (c *Client) CheckPosture(ctx context.Context, zoneID string, hostnames ...string) (Posture, error) {
	if zoneID == "" {
		return Posture{}, fmt.Errorf("origincert: check posture: empty zone ID: %w", ErrInvalidRequest)
	}
	settings := map[Setting]string{}
	for _, s := range postureSettings {
		v, err := c.getSetting(ctx, zoneID, s.setting)
		if err != nil {
			return Posture{}, err
		}
		settings[s.setting] = v
	}
	pulls, err := c.originPulls(ctx, zoneID, settings[SettingTLSClientAuth], hostnames)
	if err != nil {
		return Posture{}, err
	}
	return EvaluatePosture(zoneID, settings, pulls), nil
}

// EnforcePosture reads the zone's posture and sets every deviating
// setting to its secure value, one PATCH of that setting each (safe to
// retry), and zone-level origin pulls through their own endpoint. It
// returns the deviations it fixed. Origin pulls are enforced at the
// strongest level configured: per-hostname associations of the hostnames
// given are switched back on; when the zone has its own active
// certificate, zone level is switched on, never the shared certificate;
// only a zone with nothing configured gets the global setting. Turning
// origin pulls on makes Cloudflare present a client certificate:
// configure the origin to accept it ([ServerTLSConfig]) first.
func (c *Client) EnforcePosture(ctx context.Context, zoneID string, hostnames ...string) ([]Deviation, error) {
	p, err := c.CheckPosture(ctx, zoneID, hostnames...)
	if err != nil {
		return nil, err
	}
	var fixed []Deviation
	for _, d := range p.Deviations {
		switch d.Setting {
		case SettingZoneOriginPulls:
			err = c.SetZoneOriginPulls(ctx, zoneID, true)
		case SettingHostnameOriginPulls:
			err = c.SetHostnameOriginPulls(ctx, zoneID, d.Hostname, p.OriginPulls.HostnameCertificates[d.Hostname], true)
		default:
			err = c.patchSetting(ctx, zoneID, d.Setting, d.Want)
		}
		if err != nil {
			return fixed, err
		}
		fixed = append(fixed, d)
	}
	return fixed, nil
}

// patchSetting sets one zone setting (PATCH /zones/{id}/settings/{setting}
// with exactly {"value": …}) and checks the answer.
func (c *Client) patchSetting(ctx context.Context, zoneID string, s Setting, value string) error {
	op := fmt.Sprintf("set %s of zone %s to %s", s, zoneID, value)
	return c.call(ctx, op, retrySafe, func(ctx context.Context, ex *exchange) error {
		var res settingResult
		if err := c.raw(ctx, ex, op, http.MethodPatch, zonePath(zoneID, "settings", string(s)), struct {
			Value string `json:"value"`
		}{value}, &res, nil); err != nil {
			return err
		}
		if got, _ := res.Value.(string); !strings.EqualFold(got, value) {
			return &APIError{Op: op, Kind: ErrMalformedResponse, StatusCode: ex.status, Messages: []string{fmt.Sprintf("API answered value %v", res.Value)}}
		}
		return nil
	})
}
