package origincert

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// ErrInvalidHostname is matched (errors.Is) by every hostname rejected
// locally, and by the Origin CA API rejecting a hostname.
var ErrInvalidHostname = errors.New("invalid hostname")

// ApexAndWildcard returns the hostnames an origin certificate for a zone
// usually covers: the apex and one wildcard level below it, e.g.
// "example.com" and "*.example.com".
func ApexAndWildcard(zone string) []string {
	z := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(zone)), ".")
	return []string{z, "*." + z}
}

// ValidateHostnames reports every hostname that the Origin CA would not
// sign (errors.Join; each error matches [ErrInvalidHostname] and quotes the
// input): empty lists, IP addresses, single labels, bad characters or
// lengths, and wildcards other than one leading "*." label.
func ValidateHostnames(hostnames []string) error {
	_, err := normalizeHostnames(hostnames)
	return err
}

// normalizeHostnames lower-cases, drops one trailing dot, de-duplicates
// (keeping first order) and validates.
func normalizeHostnames(hostnames []string) ([]string, error) {
	if len(hostnames) == 0 {
		return nil, fmt.Errorf("origincert: no hostnames: %w", ErrInvalidHostname)
	}
	var (
		out  []string
		errs []error
	)
	for _, h := range hostnames {
		n := strings.TrimSuffix(strings.ToLower(h), ".")
		if err := checkHostname(n); err != nil {
			errs = append(errs, fmt.Errorf("origincert: hostname %q: %s: %w", h, err, ErrInvalidHostname))
			continue
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

func checkHostname(h string) error {
	if h == "" {
		return errors.New("empty")
	}
	if len(h) > 253 {
		return errors.New("longer than 253 characters")
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return errors.New("an IP address, not a hostname")
	}
	labels := strings.Split(h, ".")
	if len(labels) < 2 {
		return errors.New("not a fully qualified name")
	}
	for i, l := range labels {
		if l == "*" {
			if i != 0 {
				return errors.New("wildcard only allowed as the leftmost label")
			}
			if len(labels) < 3 {
				return errors.New("wildcard directly under a top-level domain")
			}
			continue
		}
		if l == "" || len(l) > 63 {
			return errors.New("label empty or longer than 63 characters")
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return errors.New("label starts or ends with a hyphen")
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("character %q not allowed", c)
			}
		}
	}
	return nil
}

// covers reports whether a certificate name (possibly a wildcard) matches
// hostname (possibly a wildcard itself, which only the same wildcard
// covers).
func covers(certName, hostname string) bool {
	certName, hostname = strings.ToLower(certName), strings.ToLower(hostname)
	if certName == hostname {
		return true
	}
	if strings.HasPrefix(hostname, "*.") || !strings.HasPrefix(certName, "*.") {
		return false
	}
	i := strings.IndexByte(hostname, '.')
	return i > 0 && hostname[i+1:] == certName[2:]
}
