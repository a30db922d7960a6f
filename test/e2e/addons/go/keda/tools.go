//go:build tools

// Package tools only keeps the keda build's dependencies in go.mod/go.sum; it is never built.
package tools

import (
	_ "github.com/kedacore/keda/v2/cmd/operator"
	_ "github.com/kedacore/keda/v2/cmd/adapter"
	_ "github.com/kedacore/keda/v2/cmd/webhooks"
)
