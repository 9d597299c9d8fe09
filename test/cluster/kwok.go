package cluster

import (
	"embed"
	"strings"
)

// kwok's "fast" stages, as kwokctl configures them for a cluster with node
// leases: nodes become Ready at once and keep a lease; pods on kwok's nodes
// become Running at once (Job pods then Succeeded) and disappear as soon as
// they are deleted. The YAML files are unmodified copies from
// sigs.k8s.io/kwok@v0.8.0/kustomize/stage (node/fast,
// node/heartbeat-with-lease, pod/fast).
//
//go:embed kwokstages/*.yaml
var kwokStageFiles embed.FS

var kwokStageNames = []string{
	"node-initialize.yaml",
	"node-heartbeat-with-lease.yaml",
	"pod-ready.yaml",
	"pod-complete.yaml",
	"pod-delete.yaml",
}

// kwokStages is the multi-document kwok --config file with the stages.
func kwokStages() string {
	docs := make([]string, 0, len(kwokStageNames))
	for _, name := range kwokStageNames {
		b, err := kwokStageFiles.ReadFile("kwokstages/" + name)
		if err != nil {
			panic(err) // embedded: cannot happen
		}
		docs = append(docs, strings.TrimSpace(string(b)))
	}
	return strings.Join(docs, "\n---\n") + "\n"
}
