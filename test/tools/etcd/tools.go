//go:build tools

// Package tools only exists so that go.mod/go.sum track the dependencies of the
// etcd binary build.sh compiles; it is never built.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
