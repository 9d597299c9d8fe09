// Command etcd is the etcd server the tests and the local cluster run, built
// from the Go module proxy so that nothing is downloaded from anywhere else.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
