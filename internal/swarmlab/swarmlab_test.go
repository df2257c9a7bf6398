package swarmlab

import (
	"context"
	"testing"

	"github.com/moby/moby/client"
)

// TestSwarmLab starts 3 nodes, checks that they form a Swarm with the images
// in every node, and tears them down.
func TestSwarmLab(t *testing.T) {
	lab := Start(t, Options{Images: []string{"zdplay-demo/app:0.0.1"}})
	c, err := lab.Manager().Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	nodes, err := c.NodeList(context.Background(), client.NodeListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) != 3 {
		t.Fatalf("%d nodes in the swarm, want 3", len(nodes.Items))
	}
	for _, n := range lab.Nodes {
		nc, err := n.Client()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := nc.ImageInspect(context.Background(), "zdplay-demo/app:0.0.1"); err != nil {
			t.Errorf("%s: %v", n.Name, err)
		}
		nc.Close()
	}
}
