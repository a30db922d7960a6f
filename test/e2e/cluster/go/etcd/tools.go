//go:build tools

// Package tools pins the etcd server kubeadm v1.36 names as its default (3.6.8-0), so the kind
// node's etcd image carries that exact version; test/tools/etcd pins the integration tests' etcd.
package tools

import _ "go.etcd.io/etcd/server/v3"
