// Command coredns is CoreDNS built with only the plugins the tests and the
// dev cluster use: bind, file (a zone answering the test names, NXDOMAIN for
// any other, no forwarding) or hosts, dnstap streaming every query and
// response to the operator, log, errors and metrics for debugging. Built by `make coredns` into bin/coredns.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/dnstap"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/file"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/metrics"
)

// The plugins above are registered by their imports; CoreDNS runs them in
// the order of its own directive list.
var _ = dnsserver.Directives

func main() { coremain.Run() }
