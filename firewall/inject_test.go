//go:build linux

package firewall_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/originguard/originguard/firewall"
)

// failure is one way a command of an Apply or Remove goes wrong.
type failure string

const (
	failBefore   failure = "fails before running"
	failAfter    failure = "runs, then fails" // a tool that did its work and then failed
	cancelBefore failure = "cancelled before" // the caller gives up just before the command
	cancelAfter  failure = "cancelled after"  // the command runs, then the caller gives up
)

// breakEveryStep runs op again and again, breaking its i-th command in each
// way of failing, for every i until op runs to the end unbroken. Each time
// op must either report an error that is not ErrRollback and leave the
// node's rules exactly as before, or (cancelled after its last command)
// succeed and leave them as after. reset puts the node back to before
// after a success. It is the one failure-injection loop of these tests.
//
// The Runner it gives op behaves like Exec under a cancelled context: it
// refuses to run anything once the context it is handed is done.
func (x *bed) breakEveryStep(t *testing.T, b firewall.Backend, op func(context.Context, *firewall.Applier) error, reset func(), before, after string) {
	t.Helper()
	for _, how := range []failure{failBefore, failAfter, cancelBefore, cancelAfter} {
		for i := 0; ; i++ {
			ctx, cancel := context.WithCancel(context.Background())
			calls, injected := 0, false
			var broke string
			run := x.runner()
			broken := func(rctx context.Context, stdin, name string, args ...string) (string, error) {
				calls++
				if err := rctx.Err(); err != nil {
					return "", fmt.Errorf("%s not started: %w", name, err)
				}
				if calls-1 != i || injected {
					return run(rctx, stdin, name, args...)
				}
				injected = true
				broke = fmt.Sprint(name, args)
				switch how {
				case failBefore:
					return "", fmt.Errorf("injected failure before %s", name)
				case failAfter:
					out, err := run(rctx, stdin, name, args...)
					return out, errors.Join(err, fmt.Errorf("injected failure after %s", name))
				case cancelBefore:
					cancel()
					return "", fmt.Errorf("%s killed: %w", name, rctx.Err())
				default: // cancelAfter
					out, err := run(rctx, stdin, name, args...)
					cancel()
					return out, err
				}
			}
			err := op(ctx, x.applier(b, broken))
			cancel()
			if !injected {
				if err != nil {
					t.Fatalf("%s: unbroken run: %v", how, err)
				}
				if i < 4 {
					t.Fatalf("%s: only %d commands ran", how, i)
				}
				if diff := cmp.Diff(after, x.state(t, b)); diff != "" {
					t.Fatalf("%s: unbroken run left (-want +got):\n%s", how, diff)
				}
				reset()
				break
			}
			if errors.Is(err, firewall.ErrRollback) {
				t.Fatalf("command %d %s %s: rollback failed: %v", i, broke, how, err)
			}
			want := before
			if err == nil {
				want = after // cancelled after its last command: done
			}
			if diff := cmp.Diff(want, x.state(t, b)); diff != "" {
				t.Fatalf("command %d %s %s (err %v) left the rules (-want +got):\n%s", i, broke, how, err, diff)
			}
			if err == nil {
				reset()
			}
		}
	}
}
