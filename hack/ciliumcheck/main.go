// Command ciliumcheck validates CiliumNetworkPolicy manifests offline with the
// same code path the Cilium agent uses (CiliumNetworkPolicy.Parse -> api.Rule.Sanitize).
//
// Usage: ciliumcheck FILE...
// Exit status: 0 all valid, 1 some policy invalid, 2 unreadable input.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	"github.com/cilium/cilium/pkg/policy/api"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// clusterName only affects labels Parse attaches to the rules, not validation.
const clusterName = "default"

func main() {
	logger := slog.New(slog.DiscardHandler)
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: ciliumcheck FILE...")
		os.Exit(2)
	}
	invalid, unreadable := false, false
	for _, file := range os.Args[1:] {
		f, err := os.Open(file)
		if err != nil {
			fmt.Fprintf(os.Stderr, "error: %v\n", err)
			unreadable = true
			continue
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(f))
		for i := 1; ; i++ {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "error: %s doc %d: %v\n", file, i, err)
				unreadable = true
				break
			}
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				fmt.Fprintf(os.Stderr, "error: %s doc %d: %v\n", file, i, err)
				unreadable = true
				continue
			}
			if tm.Kind != "CiliumNetworkPolicy" || tm.APIVersion != "cilium.io/v2" {
				continue // other kinds (and empty/comment-only docs) are skipped
			}
			var cnp ciliumv2.CiliumNetworkPolicy
			// Strict: unknown or misspelled field names are errors. (encoding/json
			// still fills the known fields, so the name is available for the report.)
			err = yaml.UnmarshalStrict(doc, &cnp)
			// In-cluster the object always has a namespace (kubectl defaults it);
			// an empty one would make Parse treat it as a clusterwide policy.
			if cnp.Namespace == "" {
				cnp.Namespace = metav1.NamespaceDefault
			}
			if err == nil {
				var rules api.Rules
				if rules, err = cnp.Parse(logger, clusterName); err == nil {
					fmt.Printf("ok %s/%s: %d rules\n", cnp.Namespace, cnp.Name, len(rules))
					continue
				}
			}
			fmt.Printf("invalid %s doc %d %s/%s: %v\n", file, i, cnp.Namespace, cnp.Name, err)
			invalid = true
		}
		f.Close()
	}
	switch {
	case unreadable:
		os.Exit(2)
	case invalid:
		os.Exit(1)
	}
}
