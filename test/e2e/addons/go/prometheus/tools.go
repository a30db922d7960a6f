//go:build tools

// Package tools only keeps the prometheus build's dependencies in go.mod/go.sum; it is never built.
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/prometheus"
	_ "github.com/prometheus/prometheus/cmd/promtool"
)
