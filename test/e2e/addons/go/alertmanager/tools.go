//go:build tools

// Package tools only keeps the alertmanager build's dependencies in go.mod/go.sum; it is never built.
package tools

import (
	_ "github.com/prometheus/alertmanager/cmd/alertmanager"
	_ "github.com/prometheus/alertmanager/cmd/amtool"
)
