package origincert

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Renewer keeps a TLS Secret holding a valid Origin CA certificate, for
// controllers: call [Renewer.Reconcile] on every event and again after
// Result.RequeueAfter. Fields are read-only after first use; a Renewer is
// then safe for concurrent use on different Secrets; run one Reconcile per
// Secret at a time (a controller's work queue does), or two may both
// issue and one certificate is left unrecorded.
//
// # Crash safety
//
// Each step leaves a state from which re-running Reconcile converges:
//
//  1. Issue a new certificate (key made locally). A lost answer is
//     adopted rather than re-issued when Target.Request.ZoneID is set
//     (see [Client.Issue]). A crash of the process here loses the key: the
//     certificate exists at Cloudflare but can never be served, and
//     re-running issues another. [Client.List] shows such orphans; they
//     expire by themselves, or revoke them.
//  2. Write the Secret with server-side apply, in one write: the new
//     tls.crt, tls.key, ca.crt and annotations, plus the replaced
//     certificate's ID in [AnnotationRevokePending] with the time after
//     which to revoke it (now + Grace). Either the whole write happened or
//     none of it.
//  3. When a pending revocation is due, revoke it ([Client.Revoke] treats
//     an already revoked or vanished certificate as done), then re-apply
//     the Secret without it. A crash between the two revokes again on
//     re-run. Cloudflare's answer to revoking a certificate twice is not
//     documented, and neither is revoked_at in its GET, so a revocation
//     the API refuses outright (HTTP 4xx other than 401/403/429) is
//     reported once, in the error and Result.Abandoned, and its entry
//     dropped: repeating a refused request cannot succeed, and an entry
//     that errors on every reconcile would hide every other problem.
type Renewer struct {
	Client       *Client
	Kube         kubernetes.Interface
	FieldManager string // zero means DefaultFieldManager
	// Grace is how long a replaced certificate stays valid after the
	// Secret holds its successor, so kubelet (which refreshes mounted
	// Secrets within about a minute plus its cache TTL) and ingress
	// controllers load the new one before the old is revoked; revoking
	// earlier makes Cloudflare answer 526 under Full (strict). Zero
	// means [DefaultGrace]; a negative Grace revokes at once.
	Grace time.Duration
	Clock func() time.Time // zero means time.Now
	// Issuers are passed to [NeedsRenewal] (Want.Issuers); zero means
	// the embedded Origin CA roots.
	Issuers []*x509.Certificate
}

// DefaultGrace is the Renewer's grace period when Grace is zero.
const DefaultGrace = time.Hour

// Target is one Secret to keep valid; Namespace, Name and
// Request.Hostnames are required.
type Target struct {
	Namespace, Name string
	Request         Request // hostnames, key type, validity
	// RenewBefore is the renewal window (see [Want.RenewBefore]); it
	// must be shorter than the requested validity, or every certificate
	// would be due for renewal as soon as it is made.
	RenewBefore time.Duration
}

// Validate reports every problem with the target (errors.Join).
func (t Target) Validate() error {
	var errs []error
	if t.Namespace == "" || t.Name == "" {
		errs = append(errs, errors.New("origincert: target needs a namespace and a name"))
	}
	if err := t.Request.Validate(); err != nil {
		errs = append(errs, err)
	}
	if days, err := RoundValidity(t.Request.Validity); err == nil && t.RenewBefore >= time.Duration(days)*24*time.Hour {
		errs = append(errs, fmt.Errorf("origincert: renew-before %s is not shorter than the %d-day validity: every certificate would be renewed at once", t.RenewBefore, days))
	}
	if t.RenewBefore < 0 {
		errs = append(errs, fmt.Errorf("origincert: renew-before %s is negative", t.RenewBefore))
	}
	return errors.Join(errs...)
}

// Result is what Reconcile did.
type Result struct {
	Decision     Decision      // the renewal decision taken on the Secret as found
	Issued       string        // ID of the certificate issued, if any
	Revoked      []string      // IDs revoked in this call
	Abandoned    []string      // IDs whose revocation the API refused; no longer pending
	Warnings     []string      // problems renewal cannot fix (Decision's, and the issued certificate's)
	RequeueAfter time.Duration // call again after this; 0 means no known deadline
}

// Reconcile checks the Secret, renews it if needed, and revokes replaced
// certificates whose grace period is over. See [Renewer] for crash safety.
func (r *Renewer) Reconcile(ctx context.Context, t Target) (Result, error) {
	if r.Client == nil || r.Kube == nil {
		return Result{}, errors.New("origincert: renewer needs a Client and a Kube clientset")
	}
	if err := t.Validate(); err != nil {
		return Result{}, err
	}
	now := time.Now
	if r.Clock != nil {
		now = r.Clock
	}
	grace := r.Grace
	switch {
	case grace == 0:
		grace = DefaultGrace
	case grace < 0:
		grace = 0
	}
	secrets := r.Kube.CoreV1().Secrets(t.Namespace)
	cur, err := secrets.Get(ctx, t.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		cur = nil
	case err != nil:
		return Result{}, fmt.Errorf("origincert: get secret %s/%s: %w", t.Namespace, t.Name, err)
	}
	want := Want{Hostnames: t.Request.Hostnames, KeyType: t.Request.KeyType, RenewBefore: t.RenewBefore, Issuers: r.Issuers}
	res := Result{Decision: NeedsRenewal(cur, want, now())}
	res.Warnings = append(res.Warnings, res.Decision.Warnings...)

	var pending []PendingRevoke
	if cur != nil {
		if pending, err = parsePending(cur.Annotations[AnnotationRevokePending]); err != nil {
			return res, err
		}
	}

	if res.Decision.Renew {
		cert, err := r.Client.Issue(ctx, t.Request)
		if err != nil {
			return res, err
		}
		if root := OriginCARootsExpiry(); cert.NotAfter.After(root) {
			res.Warnings = append(res.Warnings, fmt.Sprintf("certificate %s is valid until %s, after the Origin CA roots in ca.crt expire (%s): ask for a shorter validity",
				cert.ID, cert.NotAfter.UTC().Format(time.RFC3339), root.UTC().Format(time.RFC3339)))
		}
		next, err := TLSSecret(t.Namespace, t.Name, cert)
		if err != nil {
			return res, err
		}
		if cur != nil {
			if old := cur.Annotations[AnnotationCertificateID]; old != "" && old != cert.ID && !hasPending(pending, old) {
				pending = append(pending, PendingRevoke{ID: old, After: now().Add(grace).UTC().Truncate(time.Second)})
			}
			if cur.Type != corev1.SecretTypeTLS {
				// A Secret's type is immutable: replace it, and only the
				// one that was read.
				uid := cur.UID
				if err := secrets.Delete(ctx, t.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}); err != nil && !apierrors.IsNotFound(err) {
					return res, fmt.Errorf("origincert: replace secret %s/%s of type %q: %w", t.Namespace, t.Name, cur.Type, err)
				}
			}
		}
		if len(pending) > 0 {
			next.Annotations[AnnotationRevokePending] = formatPending(pending)
		}
		if cur, err = ApplySecret(ctx, r.Kube, next, r.FieldManager); err != nil {
			return res, err
		}
		res.Issued = cert.ID
	}

	// Revoke what is due.
	var (
		keep []PendingRevoke
		errs []error
	)
	for _, p := range pending {
		if now().Before(p.After) {
			keep = append(keep, p)
			continue
		}
		if err := r.Client.Revoke(ctx, p.ID); err != nil {
			errs = append(errs, err)
			if refusedForGood(err) {
				res.Abandoned = append(res.Abandoned, p.ID)
			} else {
				keep = append(keep, p)
			}
			continue
		}
		res.Revoked = append(res.Revoked, p.ID)
	}
	if len(res.Revoked)+len(res.Abandoned) > 0 && cur != nil {
		next := ownedCopy(cur)
		if len(keep) > 0 {
			next.Annotations[AnnotationRevokePending] = formatPending(keep)
		} else {
			delete(next.Annotations, AnnotationRevokePending)
		}
		if cur, err = ApplySecret(ctx, r.Kube, next, r.FieldManager); err != nil {
			errs = append(errs, err)
		}
	}

	// When to come back: the next due revocation or the renewal window.
	for _, p := range keep {
		res.RequeueAfter = earliest(res.RequeueAfter, p.After.Sub(now()))
	}
	if in, err := ReadSecret(cur); err == nil {
		window := RenewWindow(t.RenewBefore, in.Leaf)
		res.RequeueAfter = earliest(res.RequeueAfter, in.Leaf.NotAfter.Add(-window).Sub(now()))
	}
	return res, errors.Join(errs...)
}

// refusedForGood reports an API refusal that repeating cannot change: a
// 4xx other than authentication and rate limiting.
func refusedForGood(err error) bool {
	return errors.Is(err, ErrInvalidRequest) && !errors.Is(err, ErrUnauthorized) && !errors.Is(err, ErrRateLimited)
}

func hasPending(ps []PendingRevoke, id string) bool {
	for _, p := range ps {
		if p.ID == id {
			return true
		}
	}
	return false
}

func earliest(cur, d time.Duration) time.Duration {
	if d <= 0 {
		d = time.Second
	}
	if cur == 0 || d < cur {
		return d
	}
	return cur
}

// ownedCopy is the part of a stored Secret this package applies: type,
// data and its own annotations (so applying it never claims other
// managers' fields).
func ownedCopy(s *corev1.Secret) *corev1.Secret {
	ann := map[string]string{}
	for k, v := range s.Annotations {
		if strings.HasPrefix(k, "originguard.io/") {
			ann[k] = v
		}
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.Namespace, Name: s.Name, Annotations: ann},
		Type:       s.Type,
		Data:       maps.Clone(s.Data),
	}
}
