package origincert

import (
	"context"
	"fmt"
	"strconv"

	"github.com/cloudflare/cloudflare-go"
)

// Setting is the closed vocabulary of zone settings [Client.CheckPosture]
// inspects.
type Setting string

const (
	SettingSSL            Setting = "ssl"              // want "strict" (Full (strict)); "origin_pull" is stricter and accepted
	SettingMinTLSVersion  Setting = "min_tls_version"  // want "1.2" or higher
	SettingAlwaysUseHTTPS Setting = "always_use_https" // want "on"
	SettingTLSClientAuth  Setting = "tls_client_auth"  // want "on": Authenticated Origin Pulls
)

// securePosture is the wanted value per setting, in report order.
var securePosture = []struct {
	setting Setting
	want    string
	ok      func(string) bool
}{
	{SettingSSL, "strict", func(v string) bool { return v == "strict" || v == "origin_pull" }},
	{SettingMinTLSVersion, "1.2", func(v string) bool { f, err := strconv.ParseFloat(v, 64); return err == nil && f >= 1.2 }},
	{SettingAlwaysUseHTTPS, "on", func(v string) bool { return v == "on" }},
	{SettingTLSClientAuth, "on", func(v string) bool { return v == "on" }},
}

// Deviation is one zone setting that is not at its secure value. Got is
// "" when the zone did not report the setting.
type Deviation struct {
	Setting Setting
	Want    string
	Got     string
}

// String says which setting deviates, what it is and what it should be.
func (d Deviation) String() string {
	got := d.Got
	if got == "" {
		got = "(not reported)"
	}
	return fmt.Sprintf("%s is %s, want %s", d.Setting, got, d.Want)
}

// Posture (a plain value) is a zone's TLS posture: the four settings as read, and every
// deviation from the secure set (SSL Full (strict), minimum TLS 1.2,
// Always Use HTTPS, Authenticated Origin Pulls on), in that order.
type Posture struct {
	ZoneID     string
	Settings   map[Setting]string
	Deviations []Deviation
}

// Secure reports whether there are no deviations.
func (p Posture) Secure() bool { return len(p.Deviations) == 0 }

// EvaluatePosture compares setting values (as the zone settings API
// returns them) with the secure set. It is pure; [Client.CheckPosture]
// feeds it.
func EvaluatePosture(zoneID string, settings map[Setting]string) Posture {
	p := Posture{ZoneID: zoneID, Settings: map[Setting]string{}}
	for _, s := range securePosture {
		got, ok := settings[s.setting]
		if ok {
			p.Settings[s.setting] = got
		}
		if !ok || !s.ok(got) {
			p.Deviations = append(p.Deviations, Deviation{Setting: s.setting, Want: s.want, Got: got})
		}
	}
	return p
}

// CheckPosture reads the zone's settings (one GET /zones/{id}/settings)
// and reports every deviation from the secure set.
func (c *Client) CheckPosture(ctx context.Context, zoneID string) (Posture, error) {
	if zoneID == "" {
		return Posture{}, fmt.Errorf("origincert: check posture: empty zone ID: %w", ErrInvalidRequest)
	}
	settings := map[Setting]string{}
	err := c.call(ctx, "read settings of zone "+zoneID, retrySafe, func(ctx context.Context, _ *exchange) error {
		res, err := c.api.ZoneSettings(ctx, zoneID)
		if err != nil {
			return err
		}
		for _, s := range res.Result {
			if v, ok := s.Value.(string); ok {
				settings[Setting(s.ID)] = v
			} else if s.Value != nil {
				settings[Setting(s.ID)] = fmt.Sprint(s.Value)
			}
		}
		return nil
	})
	if err != nil {
		return Posture{}, err
	}
	return EvaluatePosture(zoneID, settings), nil
}

// EnforcePosture reads the zone's posture and sets every deviating
// setting to its secure value, one PATCH each (safe to retry). It returns
// the deviations it fixed. Turning on tls_client_auth makes Cloudflare
// present a client certificate: configure the origin to accept it
// ([ServerTLSConfig]) first, or it keeps working only because the origin
// ignores client certificates.
func (c *Client) EnforcePosture(ctx context.Context, zoneID string) ([]Deviation, error) {
	p, err := c.CheckPosture(ctx, zoneID)
	if err != nil {
		return nil, err
	}
	var fixed []Deviation
	for _, d := range p.Deviations {
		op := fmt.Sprintf("set %s of zone %s to %s", d.Setting, zoneID, d.Want)
		err := c.call(ctx, op, retrySafe, func(ctx context.Context, _ *exchange) error {
			_, err := c.api.UpdateZoneSetting(ctx, cloudflare.ZoneIdentifier(zoneID), cloudflare.UpdateZoneSettingParams{Name: string(d.Setting), Value: d.Want})
			return err
		})
		if err != nil {
			return fixed, err
		}
		fixed = append(fixed, d)
	}
	return fixed, nil
}
