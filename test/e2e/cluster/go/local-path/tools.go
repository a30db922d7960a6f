//go:build tools

// Package tools pins rancher's local-path-provisioner, the dynamic provisioner behind kind's default
// StorageClass "standard" (the chart's Redis claims a volume).
package tools

import _ "github.com/rancher/local-path-provisioner"
