//go:build tools

// Package tools only keeps the traefik build's dependencies in go.mod/go.sum; it is never built.
package tools

import (
	_ "github.com/traefik/traefik/v3/cmd/traefik"
)
