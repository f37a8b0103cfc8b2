package origincert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ClientCertificateInfo is an origin-pull client certificate as Cloudflare
// reports it (zone level or per hostname). A plain value.
type ClientCertificateInfo struct {
	ID             string
	Status         string // initializing, pending_deployment, active, pending_deletion, deleted, deployment_timed_out, deletion_timed_out
	CertificatePEM []byte
}

// Client-certificate statuses (Cloudflare API reference, "Origin TLS Client
// Auth": ZoneAuthenticatedOriginPull.status and the hostname certificate's).
const (
	ClientCertActive             = "active"
	ClientCertPendingDeployment  = "pending_deployment"
	ClientCertPendingDeletion    = "pending_deletion"
	ClientCertDeleted            = "deleted"
	ClientCertDeploymentTimedOut = "deployment_timed_out"
)

func clientCertPath(zoneID string, hostname bool, id ...string) string {
	if hostname {
		return zonePath(zoneID, append([]string{"origin_tls_client_auth", "hostnames", "certificates"}, id...)...)
	}
	return zonePath(zoneID, append([]string{"origin_tls_client_auth"}, id...)...)
}

func level(hostname bool) string {
	if hostname {
		return "hostname origin-pull certificate"
	}
	return "origin-pull certificate"
}

// ClientCertificates lists a zone's origin-pull client certificates: the
// zone-level ones, or with hostname set the per-hostname ones.
func (c *Client) ClientCertificates(ctx context.Context, zoneID string, hostname bool) ([]ClientCertificateInfo, error) {
	if zoneID == "" {
		return nil, fmt.Errorf("origincert: list client certificates: empty zone ID: %w", ErrInvalidRequest)
	}
	op := fmt.Sprintf("list %ss of zone %s", level(hostname), zoneID)
	var res []zoneCertificate
	err := c.call(ctx, op, retrySafe, func(ctx context.Context, ex *exchange) error {
		res = nil
		return c.raw(ctx, ex, op, http.MethodGet, clientCertPath(zoneID, hostname), nil, &res, nil)
	})
	if err != nil {
		return nil, err
	}
	out := make([]ClientCertificateInfo, 0, len(res))
	for _, r := range res {
		out = append(out, ClientCertificateInfo{ID: r.ID, Status: r.Status, CertificatePEM: []byte(r.Certificate)})
	}
	return out, nil
}

// ClientCertificate reads one origin-pull client certificate, for its
// status.
func (c *Client) ClientCertificate(ctx context.Context, zoneID string, hostname bool, id string) (ClientCertificateInfo, error) {
	if zoneID == "" || id == "" {
		return ClientCertificateInfo{}, fmt.Errorf("origincert: get client certificate: empty zone or certificate ID: %w", ErrInvalidRequest)
	}
	op := fmt.Sprintf("get %s %s of zone %s", level(hostname), id, zoneID)
	var res zoneCertificate
	err := c.call(ctx, op, retrySafe, func(ctx context.Context, ex *exchange) error {
		res = zoneCertificate{}
		return c.raw(ctx, ex, op, http.MethodGet, clientCertPath(zoneID, hostname, id), nil, &res, nil)
	})
	return ClientCertificateInfo{ID: res.ID, Status: res.Status, CertificatePEM: []byte(res.Certificate)}, err
}

// DeleteClientCertificate deletes an origin-pull client certificate
// (Cloudflare keeps expired ones until deleted). A certificate already
// gone counts as deleted. A per-hostname certificate must no longer be
// associated with a hostname.
func (c *Client) DeleteClientCertificate(ctx context.Context, zoneID string, hostname bool, id string) error {
	if zoneID == "" || id == "" {
		return fmt.Errorf("origincert: delete client certificate: empty zone or certificate ID: %w", ErrInvalidRequest)
	}
	op := fmt.Sprintf("delete %s %s of zone %s", level(hostname), id, zoneID)
	err := c.call(ctx, op, retrySafe, func(ctx context.Context, ex *exchange) error {
		return c.raw(ctx, ex, op, http.MethodDelete, clientCertPath(zoneID, hostname, id), nil, nil, nil)
	})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// Annotations and data keys of the CA Secret an [OriginPullRotator] keeps.
const (
	// AnnotationOriginPullID is the ID of the client certificate in use.
	AnnotationOriginPullID = "originguard.io/origin-pull-certificate-id"
	// AnnotationOriginPullExpires is its NotAfter, RFC 3339.
	AnnotationOriginPullExpires = "originguard.io/origin-pull-expires"
	// AnnotationOriginPullNextID is the ID of the uploaded successor that
	// is not yet active.
	AnnotationOriginPullNextID = "originguard.io/origin-pull-next-id"
	// AnnotationOriginPullDelete lists replaced certificate IDs still to be
	// deleted at Cloudflare, comma-separated.
	AnnotationOriginPullDelete = "originguard.io/origin-pull-delete"

	dataCurrentCA = "origin-pull-current-ca.crt"
	dataOldCA     = "origin-pull-previous-ca.crt"
	dataNextCA    = "origin-pull-next-ca.crt"
	dataNextCert  = "origin-pull-next.crt"
	dataNextKey   = "origin-pull-next.key"
)

// OriginPullRotator keeps the client certificate Cloudflare presents to an
// origin (zone level, or for one hostname) valid, and the CA Secret the
// origin trusts (ca.crt, as [CASecret] makes it) in step with it.
// Call [OriginPullRotator.Reconcile] on every event and again after
// RequeueAfter. Fields are read-only after first use; run one Reconcile
// per target at a time.
//
// Cloudflare deploys a new client certificate over minutes
// (pending_deployment, then active), asks to wait until it is active
// before removing the old one, and never deletes expired ones. Each step
// leaves a state from which a re-run converges:
//
//  1. Make a new CA and client certificate and write them into the Secret
//     in one apply: ca.crt now trusts the old and the new CA, and the new
//     certificate and key wait in the Secret's data, so a crash before the
//     upload uploads the same one on re-run.
//  2. Upload it. Before uploading, the zone's certificates are listed and
//     one holding the same certificate adopted, so a lost answer never
//     leaves two. Record its ID and, in the same apply, remove the key
//     from the Secret: once Cloudflare holds it, a copy next to the CA the
//     origin trusts would let anyone who reads the Secret pass as
//     Cloudflare.
//  3. Poll its status until active (requeue every PollInterval).
//  4. Switch: for a hostname, associate the hostname with it; at zone
//     level, turn zone-level origin pulls on. Then, in one apply, make it
//     the certificate in use and record the replaced one for deletion.
//  5. Delete replaced certificates at Cloudflare; once deleted, drop the
//     old CA from ca.crt.
//
// A new certificate is made when there is none, or when the one in use is
// within its renewal window ([RenewWindow] of Target.RenewBefore).
type OriginPullRotator struct {
	Client       *Client
	Kube         kubernetes.Interface
	FieldManager string           // zero means DefaultFieldManager
	Clock        func() time.Time // zero means time.Now
	PollInterval time.Duration    // zero means 30s
}

// OriginPullTarget is one origin-pull client certificate to keep.
type OriginPullTarget struct {
	Namespace, Name string // the CA Secret the origin trusts
	ZoneID          string
	// Hostname selects per-hostname origin pulls for it; "" means zone
	// level.
	Hostname string
	// Spec is what each new certificate is made from (Zone is the zone
	// or hostname named in its subject; Clock is ignored: the rotator's
	// clock is used).
	Spec        ZoneClientSpec
	RenewBefore time.Duration // see Want.RenewBefore
}

// Validate reports every problem with the target (errors.Join).
func (t OriginPullTarget) Validate() error {
	var errs []error
	if t.Namespace == "" || t.Name == "" || t.ZoneID == "" {
		errs = append(errs, errors.New("origincert: origin-pull target needs a namespace, a name and a zone ID"))
	}
	if t.Hostname != "" {
		errs = append(errs, ValidateHostnames([]string{t.Hostname}))
	}
	errs = append(errs, t.Spec.Validate())
	if t.RenewBefore < 0 {
		errs = append(errs, fmt.Errorf("origincert: renew-before %s is negative", t.RenewBefore))
	}
	return errors.Join(errs...)
}

// OriginPullResult is what one Reconcile did.
type OriginPullResult struct {
	Uploaded     string        // ID uploaded in this call
	Activated    string        // ID switched to in this call
	Deleted      []string      // IDs deleted at Cloudflare in this call
	Waiting      string        // ID still deploying (pending_deployment)
	RequeueAfter time.Duration // call again after this; 0 means no known deadline
}

// Reconcile advances the target one or more steps (see [OriginPullRotator]).
func (r *OriginPullRotator) Reconcile(ctx context.Context, t OriginPullTarget) (OriginPullResult, error) {
	var res OriginPullResult
	if r.Client == nil || r.Kube == nil {
		return res, errors.New("origincert: origin-pull rotator needs a Client and a Kube clientset")
	}
	if err := t.Validate(); err != nil {
		return res, err
	}
	now := time.Now
	if r.Clock != nil {
		now = r.Clock
	}
	poll := r.PollInterval
	if poll <= 0 {
		poll = 30 * time.Second
	}
	host := t.Hostname != ""
	hostname := ""
	if host {
		hs, _ := normalizeHostnames([]string{t.Hostname})
		hostname = hs[0]
	}
	secrets := r.Kube.CoreV1().Secrets(t.Namespace)
	cur, err := secrets.Get(ctx, t.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		cur = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: t.Namespace, Name: t.Name}, Type: corev1.SecretTypeOpaque}
	case err != nil:
		return res, fmt.Errorf("origincert: get secret %s/%s: %w", t.Namespace, t.Name, err)
	}
	st := ownedCopy(cur)
	if st.Type == "" {
		st.Type = corev1.SecretTypeOpaque
	}
	if st.Data == nil {
		st.Data = map[string][]byte{}
	}
	// A ca.crt this rotator did not write (CASecret with the shared
	// origin-pull CA, say) stays trusted as the previous CA until the
	// rotator's own certificate is in use: dropping it first would refuse
	// what Cloudflare presents until then.
	if ca := st.Data[CAKey]; len(ca) > 0 && len(st.Data[dataCurrentCA]) == 0 && len(st.Data[dataOldCA]) == 0 && len(st.Data[dataNextCA]) == 0 {
		st.Data[dataOldCA] = ca
	}
	apply := func() error {
		st.Data[CAKey] = joinPEM(st.Data[dataCurrentCA], st.Data[dataOldCA], st.Data[dataNextCA])
		if len(st.Data[CAKey]) == 0 {
			delete(st.Data, CAKey)
		}
		out, err := ApplySecret(ctx, r.Kube, st, r.FieldManager)
		if err != nil {
			return err
		}
		st = ownedCopy(out)
		if st.Data == nil {
			st.Data = map[string][]byte{}
		}
		return nil
	}

	// 1. Start a successor when there is none in flight and the current
	// one is missing or due.
	if len(st.Data[dataNextCert]) == 0 && r.due(st, t, now()) {
		spec := t.Spec
		spec.Clock = now
		z, err := NewZoneClientCertificate(spec)
		if err != nil {
			return res, err
		}
		keyPEM, err := z.Key.pem()
		if err != nil {
			return res, err
		}
		st.Data[dataNextCA], st.Data[dataNextCert], st.Data[dataNextKey] = z.CAPEM, z.CertificatePEM, keyPEM
		delete(st.Annotations, AnnotationOriginPullNextID)
		if err := apply(); err != nil {
			return res, err
		}
	}

	// 2. Upload the successor, adopting one a lost answer left behind.
	if len(st.Data[dataNextCert]) > 0 && st.Annotations[AnnotationOriginPullNextID] == "" {
		id, err := r.upload(ctx, t.ZoneID, host, st)
		if err != nil {
			return res, err
		}
		st.Annotations[AnnotationOriginPullNextID] = id
		// Cloudflare holds the key now; it must not stay next to the CA
		// the origin trusts, where whoever reads the Secret could present
		// it to the origin as Cloudflare.
		delete(st.Data, dataNextKey)
		if err := apply(); err != nil {
			return res, err
		}
		res.Uploaded = id
	}

	// 3 and 4. Wait until it is active, then switch to it.
	if next := st.Annotations[AnnotationOriginPullNextID]; next != "" {
		info, err := r.Client.ClientCertificate(ctx, t.ZoneID, host, next)
		if errors.Is(err, ErrNotFound) {
			// Deleted behind our back: upload the same one again next time.
			delete(st.Annotations, AnnotationOriginPullNextID)
			if aerr := apply(); aerr != nil {
				return res, aerr
			}
			res.RequeueAfter = poll
			return res, err
		}
		if err != nil {
			return res, err
		}
		switch info.Status {
		case ClientCertActive:
			if host {
				err = r.Client.SetHostnameOriginPulls(ctx, t.ZoneID, hostname, next, true)
			} else {
				err = r.Client.SetZoneOriginPulls(ctx, t.ZoneID, true)
			}
			if err != nil {
				return res, err
			}
			leaf, err := parseLeaf(st.Data[dataNextCert])
			if err != nil {
				return res, fmt.Errorf("origincert: secret %s/%s %s: %v", t.Namespace, t.Name, dataNextCert, err)
			}
			if old := st.Annotations[AnnotationOriginPullID]; old != "" && old != next {
				st.Annotations[AnnotationOriginPullDelete] = addID(st.Annotations[AnnotationOriginPullDelete], old)
				st.Data[dataOldCA] = joinPEM(st.Data[dataOldCA], st.Data[dataCurrentCA])
			}
			st.Annotations[AnnotationOriginPullID] = next
			st.Annotations[AnnotationOriginPullExpires] = leaf.NotAfter.UTC().Format(time.RFC3339)
			st.Data[dataCurrentCA] = st.Data[dataNextCA]
			delete(st.Annotations, AnnotationOriginPullNextID)
			delete(st.Data, dataNextCA)
			delete(st.Data, dataNextCert)
			delete(st.Data, dataNextKey)
			if err := apply(); err != nil {
				return res, err
			}
			res.Activated = next
		case ClientCertDeploymentTimedOut, ClientCertDeleted, ClientCertPendingDeletion:
			return res, &APIError{Op: fmt.Sprintf("deploy %s %s", level(host), next), Kind: ErrInvalidRequest,
				Messages: []string{"status " + info.Status + "; the successor is not used: delete it and the annotation " + AnnotationOriginPullNextID + " to start again"}}
		default:
			res.Waiting = next
			res.RequeueAfter = poll
			return res, nil
		}
	}

	// 5. Delete what was replaced; once gone, stop trusting its CA. A
	// previous CA with nothing to delete (one the rotator found in ca.crt)
	// is dropped on a later call than the switch, once the certificate in
	// use is the rotator's.
	pending := splitIDs(st.Annotations[AnnotationOriginPullDelete])
	if len(pending) == 0 && len(st.Data[dataOldCA]) > 0 && st.Annotations[AnnotationOriginPullID] != "" && len(st.Data[dataNextCert]) == 0 {
		if res.Activated != "" {
			res.RequeueAfter = poll
		} else {
			delete(st.Data, dataOldCA)
			if err := apply(); err != nil {
				return res, err
			}
		}
	}
	if len(pending) > 0 {
		var keep []string
		var errs []error
		for _, id := range pending {
			if err := r.Client.DeleteClientCertificate(ctx, t.ZoneID, host, id); err != nil {
				errs = append(errs, err)
				keep = append(keep, id)
				continue
			}
			info, err := r.Client.ClientCertificate(ctx, t.ZoneID, host, id)
			switch {
			case errors.Is(err, ErrNotFound) || err == nil && info.Status == ClientCertDeleted:
				res.Deleted = append(res.Deleted, id)
			case err != nil:
				errs = append(errs, err)
				keep = append(keep, id)
			default:
				keep = append(keep, id) // pending_deletion
			}
		}
		if len(res.Deleted) > 0 {
			if len(keep) == 0 {
				delete(st.Annotations, AnnotationOriginPullDelete)
				delete(st.Data, dataOldCA)
			} else {
				st.Annotations[AnnotationOriginPullDelete] = strings.Join(keep, ",")
			}
			if err := apply(); err != nil {
				errs = append(errs, err)
			}
		}
		if len(keep) > 0 {
			res.RequeueAfter = poll
		}
		if err := errors.Join(errs...); err != nil {
			return res, err
		}
	}

	if res.RequeueAfter == 0 {
		if exp, err := time.Parse(time.RFC3339, st.Annotations[AnnotationOriginPullExpires]); err == nil {
			if leaf, err := parseLeaf(st.Data[dataCurrentCA]); err == nil {
				res.RequeueAfter = earliest(0, exp.Add(-RenewWindow(t.RenewBefore, leaf)).Sub(now()))
			}
		}
	}
	return res, nil
}

// due reports whether the certificate in use is missing or within its
// renewal window.
func (r *OriginPullRotator) due(st *corev1.Secret, t OriginPullTarget, now time.Time) bool {
	if st.Annotations[AnnotationOriginPullID] == "" {
		return true
	}
	exp, err := time.Parse(time.RFC3339, st.Annotations[AnnotationOriginPullExpires])
	if err != nil {
		return true
	}
	// The CA and the client certificate share their validity period.
	ca, err := parseLeaf(st.Data[dataCurrentCA])
	if err != nil {
		return true
	}
	return exp.Sub(now) <= RenewWindow(t.RenewBefore, ca)
}

// upload sends the successor held in the Secret, unless the zone already
// has it (a lost answer), and returns its ID.
func (r *OriginPullRotator) upload(ctx context.Context, zoneID string, host bool, st *corev1.Secret) (string, error) {
	certPEM := st.Data[dataNextCert]
	existing, err := r.Client.ClientCertificates(ctx, zoneID, host)
	if err != nil {
		return "", err
	}
	want, err := parseLeaf(certPEM)
	if err != nil {
		return "", fmt.Errorf("origincert: secret %s/%s %s: %v", st.Namespace, st.Name, dataNextCert, err)
	}
	for _, e := range existing {
		if leaf, err := parseLeaf(e.CertificatePEM); err == nil && bytes.Equal(leaf.Raw, want.Raw) {
			return e.ID, nil
		}
	}
	key, err := parsePrivateKeyPEM(st.Data[dataNextKey])
	if err != nil {
		// Without the key (removed after an upload whose ID was then
		// lost, say) this successor cannot be uploaded: start another.
		return "", fmt.Errorf("origincert: secret %s/%s %s: %v: delete %s to start a new certificate", st.Namespace, st.Name, dataNextKey, err, dataNextCert)
	}
	z := &ZoneClientCertificate{CertificatePEM: certPEM, Key: key, NotAfter: want.NotAfter}
	if host {
		return r.Client.UploadHostnameClientCertificate(ctx, zoneID, z)
	}
	return r.Client.UploadZoneClientCertificate(ctx, zoneID, z)
}

func joinPEM(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		if len(p) == 0 {
			continue
		}
		out = append(out, p...)
		if out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
	}
	return out
}

func splitIDs(v string) []string {
	var out []string
	for p := range strings.SplitSeq(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func addID(list, id string) string {
	ids := splitIDs(list)
	if !slices.Contains(ids, id) {
		ids = append(ids, id)
	}
	return strings.Join(ids, ",")
}
