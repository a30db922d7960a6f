//go:build tools

// Package tools only keeps the kube-state-metrics build's dependencies in go.mod/go.sum; it is never built.
package tools

import (
	_ "k8s.io/kube-state-metrics/v2"
)
