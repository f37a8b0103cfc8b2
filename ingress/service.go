package ingress

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// genService emits the apply patch for the controller's Service: a
// LoadBalancer that admits only the edge (loadBalancerSourceRanges, enforced
// by the cloud load balancer or kube-proxy against the packet's source, the
// peer) and keeps that source address intact up to the controller
// (externalTrafficPolicy: Local; with Cluster a node may SNAT the packet, and
// every address check in the controller then sees a node's address).
//
// It is a partial object meant for server-side apply onto the Service the
// controller's installation created: fields it does not name keep their
// owner.
func genService(s Spec, out *Output) {
	if s.ControllerService == nil {
		out.Caveats = append(out.Caveats, Caveat{NeedEdgeOnly,
			"no ControllerService: set loadBalancerSourceRanges to the edge and externalTrafficPolicy: Local on the controller's Service yourself, or enforce the edge with a NetworkPolicy or the node firewall"})
		return
	}
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: s.ControllerService.Name, Namespace: s.ControllerService.Namespace},
		Spec: corev1.ServiceSpec{
			Type:                     corev1.ServiceTypeLoadBalancer,
			ExternalTrafficPolicy:    corev1.ServiceExternalTrafficPolicyLocal,
			LoadBalancerSourceRanges: s.edgeStrings(),
		},
	}
	out.Objects = append(out.Objects, svc)
}
