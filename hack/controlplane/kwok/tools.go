//go:build tools

// Package kwok pins KWOK, which simulates the nodes of the local cluster.
package kwok

import _ "sigs.k8s.io/kwok/cmd/kwok"
