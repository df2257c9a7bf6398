package docker

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// Container is what zdplay needs to know of a service's container.
type Container struct {
	ID      string
	Name    string // without the leading "/"
	Service string
	Image   string // the image reference it was created from ("app:2")
	ImageID string // "sha256:..."
	// IP is its address on the project's network ("" when not running).
	IP string
	// State is "running", "exited", "created", "restarting", "paused"...
	State string
	// Running is State == "running" (the engine's own Running flag is also
	// true while restarting or paused).
	Running  bool
	ExitCode int    // meaningful when State is "exited"
	Error    string // the engine's error starting it, if any
	// Restarts is how often the engine restarted it (restart policy).
	Restarts int
	// Health is "" when neither the image nor the compose file defines a
	// healthcheck, else "starting", "healthy" or "unhealthy".
	Health string
	// HealthOutput is the output of the last health probe (trimmed).
	HealthOutput string
	ConfigHash   string // the com.docker.compose.config-hash label
}

// ShortID is the 12-character container ID.
func (c Container) ShortID() string { return shortID(c.ID) }

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// serviceFilters selects the (non one-off) containers Compose created for a
// service of a project.
func serviceFilters(projectName, service string) client.Filters {
	return make(client.Filters).
		Add("label", api.ProjectLabel+"="+projectName).
		Add("label", api.ServiceLabel+"="+service).
		Add("label", api.OneoffLabel+"=False")
}

// listService lists all containers (running or not) of a service, running
// ones first, then newest first.
func (c *Client) listService(ctx context.Context, projectName, service string) ([]container.Summary, error) {
	res, err := c.api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: serviceFilters(projectName, service)})
	if err != nil {
		return nil, fmt.Errorf("listing containers of %s/%s: %w", projectName, service, err)
	}
	items := res.Items
	sort.SliceStable(items, func(i, j int) bool {
		ri, rj := items[i].State == container.StateRunning, items[j].State == container.StateRunning
		if ri != rj {
			return ri
		}
		return items[i].Created > items[j].Created
	})
	return items, nil
}

// ContainerOf returns the container of a service of a project (a running one
// when there are several). The error wraps ErrNoContainer when the service
// has none.
func (c *Client) ContainerOf(ctx context.Context, projectName, service string) (Container, error) {
	items, err := c.listService(ctx, projectName, service)
	if err != nil {
		return Container{}, err
	}
	if len(items) == 0 {
		return Container{}, fmt.Errorf("%w for service %s of compose project %s: bring it up first (compose_up or compose_recreate)", ErrNoContainer, service, projectName)
	}
	return c.inspect(ctx, projectName, items[0].ID)
}

// inspect reads a container's state, health and project-network address.
func (c *Client) inspect(ctx context.Context, projectName, id string) (Container, error) {
	res, err := c.api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return Container{}, fmt.Errorf("inspecting container %s: %w", shortID(id), err)
	}
	in := res.Container
	out := Container{ID: in.ID, Name: strings.TrimPrefix(in.Name, "/"), ImageID: in.Image, Restarts: in.RestartCount}
	if in.Config != nil {
		out.Image = in.Config.Image
		out.Service = in.Config.Labels[api.ServiceLabel]
		out.ConfigHash = in.Config.Labels[api.ConfigHashLabel]
	}
	if st := in.State; st != nil {
		out.State = string(st.Status)
		out.Running = st.Status == container.StateRunning
		out.ExitCode = st.ExitCode
		out.Error = st.Error
		if h := st.Health; h != nil && h.Status != container.NoHealthcheck {
			out.Health = string(h.Status)
			if n := len(h.Log); n > 0 && h.Log[n-1] != nil {
				out.HealthOutput = strings.TrimSpace(h.Log[n-1].Output)
			}
		}
	}
	if in.NetworkSettings != nil {
		out.IP = projectIP(projectName, in.NetworkSettings.Networks)
	}
	return out, nil
}

// projectIP picks the container's address on the project's network: the
// network named after the project ("<project>_default", "<project>_front"),
// else the first network with an address.
func projectIP(projectName string, networks map[string]*network.EndpointSettings) string {
	names := make([]string, 0, len(networks))
	for n := range networks {
		names = append(names, n)
	}
	sort.Strings(names)
	first := ""
	for _, n := range names {
		ep := networks[n]
		if ep == nil || !ep.IPAddress.IsValid() {
			continue
		}
		ip := ep.IPAddress.String()
		if strings.HasPrefix(n, projectName+"_") {
			return ip
		}
		if first == "" {
			first = ip
		}
	}
	return first
}

// Outdated reports whether a service must be (re)created to match the
// project: true when it has no container, when its container is not running,
// when the container's config-hash label differs from the service's hash in
// the file (the image tag, environment, command... changed), or when the
// service's image tag now points to another image than the one the container
// runs (rebuilt). reason says which, in a few words.
func (c *Client) Outdated(ctx context.Context, project *types.Project, serviceName string) (bool, string, error) {
	st, why, err := c.serviceState(ctx, project, serviceName)
	return st != stateCurrent, why, err
}

// serviceState is how a service's containers compare with the project.
type serviceState int

const (
	stateCurrent    serviceState = iota // runs as the file says
	stateAbsent                         // no container
	stateNotRunning                     // a container, stopped, restarting...
	stateDiverged                       // runs, from another config or image
)

func (c *Client) serviceState(ctx context.Context, project *types.Project, serviceName string) (serviceState, string, error) {
	svc, err := service(project, serviceName)
	if err != nil {
		return 0, "", err
	}
	want, err := ServiceHash(svc)
	if err != nil {
		return 0, "", fmt.Errorf("hashing service %s: %w", serviceName, err)
	}
	items, err := c.listService(ctx, project.Name, serviceName)
	if err != nil {
		return 0, "", err
	}
	if len(items) == 0 {
		return stateAbsent, "no container", nil
	}
	localID, err := c.imageID(ctx, imageOf(project, svc))
	if err != nil {
		return 0, "", err
	}
	for _, it := range items {
		if it.State != container.StateRunning {
			return stateNotRunning, fmt.Sprintf("container %s is %s (%s)", shortID(it.ID), it.State, it.Status), nil
		}
	}
	for _, it := range items {
		if got := it.Labels[api.ConfigHashLabel]; got != want {
			return stateDiverged, c.whyDiverged(ctx, project.Name, it.ID, svc), nil
		}
		if localID != "" && it.ImageID != localID {
			return stateDiverged, fmt.Sprintf("image %s was rebuilt (container runs %s, the tag is now %s)",
				imageOf(project, svc), shortID(it.ImageID), shortID(localID)), nil
		}
	}
	return stateCurrent, fmt.Sprintf("up to date (container %s)", shortID(items[0].ID)), nil
}

// whyDiverged names what changed, as far as cheaply known.
func (c *Client) whyDiverged(ctx context.Context, projectName, id string, svc types.ServiceConfig) string {
	ctr, err := c.inspect(ctx, projectName, id)
	if err == nil && svc.Image != "" && ctr.Image != "" && ctr.Image != svc.Image {
		return fmt.Sprintf("image %s -> %s", ctr.Image, svc.Image)
	}
	return "configuration changed (config hash differs from the compose file)"
}

// imageID is the local ID of an image reference, "" when absent.
func (c *Client) imageID(ctx context.Context, ref string) (string, error) {
	res, err := c.api.ImageInspect(ctx, ref)
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return "", nil
		}
		return "", fmt.Errorf("inspecting image %s: %w", ref, err)
	}
	return res.ID, nil
}

// MissingImages lists, sorted, the images the project's services run that
// are not present locally. zdplay never pulls (no registry is reachable from
// the hosts it targets, and an upgrade must not depend on one): a missing
// image is an error whatever the service's pull_policy says.
func (c *Client) MissingImages(ctx context.Context, project *types.Project) ([]string, error) {
	seen := map[string]bool{}
	var missing []string
	for _, name := range project.ServiceNames() {
		ref := imageOf(project, project.Services[name])
		if seen[ref] {
			continue
		}
		seen[ref] = true
		id, err := c.imageID(ctx, ref)
		if err != nil {
			return nil, err
		}
		if id == "" {
			missing = append(missing, ref)
		}
	}
	sort.Strings(missing)
	return missing, nil
}

// CheckImages is MissingImages as an error that says what to do, nil when
// every image is present.
func (c *Client) CheckImages(ctx context.Context, project *types.Project) error {
	missing, err := c.MissingImages(ctx, project)
	if err != nil {
		return err
	}
	return MissingImagesError(project, missing)
}

// MissingImagesError words the error for missing images (nil when none).
func MissingImagesError(project *types.Project, missing []string) error {
	if len(missing) == 0 {
		return nil
	}
	var parts []string
	for _, ref := range missing {
		var users []string
		for _, name := range project.ServiceNames() {
			if imageOf(project, project.Services[name]) == ref {
				users = append(users, name)
			}
		}
		parts = append(parts, fmt.Sprintf("%s (service %s)", ref, strings.Join(users, ", ")))
	}
	return fmt.Errorf("image not present locally: %s; build it first (`make images`, or `docker build -t %s .`): zdplay never pulls, no registry is reachable",
		strings.Join(parts, ", "), missing[0])
}

// ProjectContainers counts a project's containers, running or not.
func (c *Client) ProjectContainers(ctx context.Context, projectName string) (int, error) {
	res, err := c.api.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", api.ProjectLabel+"="+projectName)})
	if err != nil {
		return 0, fmt.Errorf("listing containers of project %s: %w", projectName, err)
	}
	return len(res.Items), nil
}
