package cluster

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

const (
	// LabelRegion and LabelZone are the well-known topology labels the
	// simulated nodes carry.
	LabelRegion = "topology.kubernetes.io/region"
	LabelZone   = "topology.kubernetes.io/zone"

	// KwokNodeAnnotation marks the nodes kwok manages (its
	// --manage-nodes-with-annotation-selector is KwokNodeAnnotation=fake).
	KwokNodeAnnotation = "kwok.x-k8s.io/node"
)

// Node is a simulated node that kwok keeps Ready and whose pods it runs.
type Node struct {
	Name   string
	Region string // topology.kubernetes.io/region
	Zone   string // topology.kubernetes.io/zone
	// Country is informational (ISO 3166-1 alpha-2); it is not put on the node.
	Country string
	// Labels are extra labels.
	Labels map[string]string
	// CPU, Memory and Pods are the node's capacity and allocatable; defaults
	// 16, 64Gi, 110.
	CPU, Memory string
	Pods        string
	// Taints, if any. The default nodes have none: every node of the cluster
	// is simulated, so there are no real nodes to keep kwok's pods off, and
	// pods need no toleration.
	Taints []corev1.Taint
}

// DefaultNodes are the nodes a cluster gets unless Options.Nodes says
// otherwise: one per region the operator's examples use.
func DefaultNodes() []Node {
	return []Node{
		{Name: "kwok-eu-north-1a", Region: "eu-north-1", Zone: "eu-north-1a", Country: "SE"},
		{Name: "kwok-europe-west3-a", Region: "europe-west3", Zone: "europe-west3-a", Country: "DE"},
		{Name: "kwok-us-east-1a", Region: "us-east-1", Zone: "us-east-1a", Country: "US"},
	}
}

func (n Node) object() (*corev1.Node, error) {
	def := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	rl := corev1.ResourceList{}
	for name, v := range map[corev1.ResourceName]string{
		corev1.ResourceCPU:    def(n.CPU, "16"),
		corev1.ResourceMemory: def(n.Memory, "64Gi"),
		corev1.ResourcePods:   def(n.Pods, "110"),
	} {
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return nil, fmt.Errorf("node %s: %s: %w", n.Name, name, err)
		}
		rl[name] = q
	}
	labels := map[string]string{
		"kubernetes.io/hostname": n.Name,
		"kubernetes.io/os":       "linux",
		"kubernetes.io/arch":     "amd64",
		"type":                   "kwok",
	}
	if n.Region != "" {
		labels[LabelRegion] = n.Region
	}
	if n.Zone != "" {
		labels[LabelZone] = n.Zone
	}
	for k, v := range n.Labels {
		labels[k] = v
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        n.Name,
			Labels:      labels,
			Annotations: map[string]string{KwokNodeAnnotation: "fake"},
		},
		Spec: corev1.NodeSpec{Taints: n.Taints},
		Status: corev1.NodeStatus{
			Capacity:    rl,
			Allocatable: rl.DeepCopy(),
			Phase:       corev1.NodePending,
		},
	}, nil
}

func createNodes(ctx context.Context, cs kubernetes.Interface, nodes []Node) error {
	for i, n := range nodes {
		obj, err := n.object()
		if err != nil {
			return err
		}
		// kwok fills in addresses only from its single --node-ip; give each
		// node its own (never routed: nothing listens there).
		obj.Status.Addresses = []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("10.255.0.%d", i+1)},
			{Type: corev1.NodeHostName, Address: n.Name},
		}
		if _, err := cs.CoreV1().Nodes().Create(ctx, obj, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create node %s: %w", n.Name, err)
		}
	}
	return nil
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
