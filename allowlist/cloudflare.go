package allowlist

import (
	_ "embed"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Ranges is a published list of Cloudflare's edge ranges with where and when
// it was taken. Values from [Embedded] and [Fetcher.Fetch] hold canonical,
// valid prefixes.
type Ranges struct {
	// IPv4 and IPv6 are the edge ranges, in the order Cloudflare lists them.
	IPv4 []netip.Prefix
	IPv6 []netip.Prefix
	// JDCloud holds the ranges of the JD Cloud network serving Cloudflare's
	// China network, IPv4 and IPv6 mixed. It is empty unless asked for with
	// [WithJDCloud]; the embedded snapshot does not carry it.
	JDCloud []netip.Prefix
	// ETag is the API's digest of the list ("" when unknown); it changes
	// when the list does.
	ETag string
	// Source says where the list came from: a URL, or a file path.
	Source string
	// TakenAt is when the list was read from its source.
	TakenAt time.Time
}

// clone returns r with slices of its own.
func (r Ranges) clone() Ranges {
	r.IPv4, r.IPv6, r.JDCloud = slices.Clone(r.IPv4), slices.Clone(r.IPv6), slices.Clone(r.JDCloud)
	return r
}

// All returns every prefix of r: IPv4, IPv6, then JD Cloud.
func (r Ranges) All() []netip.Prefix {
	return slices.Concat(r.IPv4, r.IPv6, r.JDCloud)
}

// Set returns the union of all of r's prefixes as a [Set]. It fails only if
// r holds an invalid prefix, which values from this package never do.
func (r Ranges) Set() (Set, error) {
	return SetFrom(r.All())
}

var (
	//go:embed cloudflare/ips-v4.txt
	embeddedV4 string
	//go:embed cloudflare/ips-v6.txt
	embeddedV6 string
)

// embeddedTakenAt is the date of the public copies the embedded list was
// checked against; the API's etag for that list is not known.
var embeddedTakenAt = time.Date(2026, 9, 29, 0, 0, 0, 0, time.UTC)

// EmbeddedSource is the [Ranges.Source] of the embedded snapshot.
const EmbeddedSource = "embedded: https://www.cloudflare.com/ips-v4 and https://www.cloudflare.com/ips-v6"

var embedded = sync.OnceValues(func() (Ranges, Set) {
	r := Ranges{
		IPv4:    listOf(embeddedV4),
		IPv6:    listOf(embeddedV6),
		Source:  EmbeddedSource,
		TakenAt: embeddedTakenAt,
	}
	return r, MustSetFrom(r.All()...)
})

// listOf parses a list compiled into the package.
func listOf(text string) []netip.Prefix {
	prefixes, err := parseLines(text)
	if err != nil {
		panic("allowlist: embedded list is corrupt: " + err.Error())
	}
	return prefixes
}

// Embedded returns the snapshot of Cloudflare's published IPv4 and IPv6
// ranges compiled into this package, with the date it was taken. It needs no
// network. The caller may modify the returned slices.
func Embedded() Ranges {
	r, _ := embedded()
	return r.clone()
}

// Cloudflare returns the embedded Cloudflare ranges ([Embedded]) as a Set.
// The Set is built once and shared; like every Set, it cannot be modified.
func Cloudflare() Set {
	_, s := embedded()
	return s
}
