package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// EnvKubeBin names the directory holding kube-apiserver and etcd. hack/test.sh
// exports it from `bash hack/provision.sh --print-bin-dir`; when it is set,
// nothing else is searched, so a stale build elsewhere is never picked up.
const EnvKubeBin = "ORIGINGUARD_KUBE_BIN"

// binaries are the paths of the two control-plane programs.
type binaries struct {
	apiserver, etcd string
}

// KubeBinaries finds kube-apiserver and etcd: in $ORIGINGUARD_KUBE_BIN when
// set, else in the cache directories hack/provision.sh links as
// <cache>/kube/current, else in $PATH.
func KubeBinaries() (apiserver, etcd string, err error) {
	b, err := kubeBinaries()
	return b.apiserver, b.etcd, err
}

func kubeBinaries() (binaries, error) {
	if dir := os.Getenv(EnvKubeBin); dir != "" {
		return binariesIn(dir)
	}
	var errs []error
	for _, dir := range cacheBinDirs() {
		b, err := binariesIn(dir)
		if err == nil {
			return b, nil
		}
		errs = append(errs, err)
	}
	api, err1 := LookPath("kube-apiserver")
	etcd, err2 := LookPath("etcd")
	if err1 == nil && err2 == nil {
		return binaries{apiserver: api, etcd: etcd}, nil
	}
	errs = append(errs, err1, err2)
	return binaries{}, fmt.Errorf("kube-apiserver and etcd not found: %w", errors.Join(errs...))
}

// cacheBinDirs lists the <cache>/kube/current links hack/provision.sh makes,
// in the order it picks a cache root.
func cacheBinDirs() []string {
	var dirs []string
	if c := os.Getenv("ORIGINGUARD_CACHE"); c != "" {
		dirs = append(dirs, filepath.Join(c, "kube", "current"))
	}
	dirs = append(dirs, "/var/cache/originguard/kube/current")
	if c, err := os.UserCacheDir(); err == nil {
		dirs = append(dirs, filepath.Join(c, "originguard", "kube", "current"))
	}
	return dirs
}

func binariesIn(dir string) (binaries, error) {
	b := binaries{
		apiserver: filepath.Join(dir, "kube-apiserver"),
		etcd:      filepath.Join(dir, "etcd"),
	}
	var errs []error
	for _, p := range []string{b.apiserver, b.etcd} {
		fi, err := os.Stat(p)
		switch {
		case err != nil:
			errs = append(errs, err)
		case !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0:
			errs = append(errs, fmt.Errorf("%s is not an executable file", p))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return binaries{}, err
	}
	return b, nil
}
