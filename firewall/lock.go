package firewall

import (
	"context"
	"fmt"
	"time"
)

// DefaultLockFile is the file [Applier.Apply], [Applier.Remove] and
// [Applier.Check] lock unless [WithLockFile] names another. Mount the
// host's /run (or this one file, hostPath type FileOrCreate) into a
// DaemonSet, so that every Applier on the node — the DaemonSet's pods
// during a rollout with maxSurge, and a manual run on the host — takes the
// same lock.
const DefaultLockFile = "/run/originguard.lock"

// lockPoll is how often a waiting Applier tries the lock again.
const lockPoll = 20 * time.Millisecond

// lock takes the Applier's lock file, exclusively or shared, waiting until
// it is free or ctx is done. The lock is an flock(2) on an open file: the
// kernel drops it when the process dies, so a crashed Applier never leaves
// the node locked.
func (a *Applier) lock(ctx context.Context, exclusive bool) (unlock func(), err error) {
	f, err := openLockFile(a.lockFile)
	if err != nil {
		return nil, fmt.Errorf("firewall: lock %s: %w", a.lockFile, err)
	}
	for {
		ok, err := tryLock(f, exclusive)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("firewall: lock %s: %w", a.lockFile, err)
		}
		if ok {
			return func() { f.Close() }, nil // closing the file drops the lock
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("firewall: lock %s: another Applier holds it: %w", a.lockFile, context.Cause(ctx))
		case <-time.After(lockPoll):
		}
	}
}
