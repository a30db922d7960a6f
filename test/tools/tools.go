//go:build tools

// Package tools only exists so that go.mod/go.sum track the dependencies of the
// binaries build.sh compiles; it is never built.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
