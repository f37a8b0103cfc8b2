package testbed

import (
	"testing"
	"time"
)

// BenchmarkControlPlaneStart measures a cold start of etcd + kube-apiserver
// to /readyz, as the first APIServer call of a test binary pays it:
//
//	go test -run='^$' -bench=ControlPlaneStart -benchtime=5x ./internal/testbed
func BenchmarkControlPlaneStart(b *testing.B) {
	Require(b, NeedKubeAPIServer)
	var ready time.Duration
	for i := 0; i < b.N; i++ {
		cp, err := startControlPlane()
		if err != nil {
			b.Fatal(err)
		}
		ready += cp.ready
		b.StopTimer()
		cp.stop()
		b.StartTimer()
	}
	b.ReportMetric(ready.Seconds()/float64(b.N), "s/ready")
}
