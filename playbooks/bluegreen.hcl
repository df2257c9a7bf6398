# Blue-green (seed 003, issue 5): two colours of the app, blue and green,
# each a set of compose services (blue_1..blue_N, green_1..green_N), the
# same redis db, and a proxy on 127.0.0.1:PORT that serves the live colour
# only. A release goes to the idle colour, beside the live one; once every
# replica of it is healthy, the proxy switches all traffic to it. The old
# colour keeps running, so switching back is one more switch. The engine's
# bluegreen block (internal/bluegreen) reads the state files below, decides
# which colour goes where and records it; its phases are the steps that do
# the work. Templates in ../templates.
#
# The switch (the switch phase's proxy task), by -e proxy:
#   nginx    (default) one reload of a conf that names the new colour's
#            replicas only; the old workers finish the requests in flight.
#   haproxy  no reload: both colours' replicas sit in the backend's slots,
#            the idle one's in maint; over the runtime API the new colour's
#            go ready, then the old colour's drain and go to maint once
#            their sessions are 0. No client connection is closed.
#
#   zdplay run playbooks/bluegreen.hcl -t provision                     # blue at var.version
#   zdplay run playbooks/bluegreen.hcl -t deploy -e version=0.0.2       # to the idle colour, then switch
#   zdplay run playbooks/bluegreen.hcl -t switchback                    # back to the other colour
#   zdplay run playbooks/bluegreen.hcl -t retire                        # remove the idle colour
#   zdplay run playbooks/bluegreen.hcl -t teardown
#
# State, in files under dir, read by the bluegreen block when the run starts:
#   live-colour           the colour the proxy serves ("blue" or "green"):
#                         written right after the switch to it
#   blue-release,         the release each colour runs (absent: the colour
#   green-release         does not exist); written before the colour is
#                         brought up at it
#   live-release          the live colour's release, for people and scripts
#                         (derived: the engine reads COLOUR-release)
#
# Every role first takes a lock on DIR/.zdplay.lock: a second run on the same
# deployment is refused at once, naming the run that holds it.

# The deployment's variables (version, replicas per colour, port, project,
# dir, health_timeout, proxy_image), the proxy's (proxy, haproxy_image)
# and the demo app's, with this playbook's defaults.
import = ["deployment.vars.hcl", "proxy.vars.hcl", "demo.vars.hcl"]

defaults = {
  version  = "0.0.1"
  replicas = 2
  project  = "zdplay-bluegreen"
  proxy    = "nginx"
}

variable "drain_timeout" {
  description = "with -e proxy=haproxy: how long a switch waits for the old colour's requests in flight to finish"
  default     = "30s"
}
variable "stop_timeout" {
  description = "retire: how long (seconds) each replica of the idle colour gets to exit on SIGTERM before it is killed"
  type        = number
  default     = 15
}

locals {
  project = var.project
  dir     = abspath(var.dir != "" ? var.dir : ".zdplay/${local.project}")
  compose = "${local.dir}/docker-compose.yml"
  lock    = "${local.dir}/.zdplay.lock"
  # HAProxy's backend holds both colours: templates/haproxy.cfg.tmpl's slots.
  slots = 2 * var.replicas
  # The compose services of each colour; blue is live on a fresh dir.
  services = { for c in ["blue", "green"] : c => [for i in range(var.replicas) : "${c}_${i + 1}"] }
}

# What the tasks here say: the compose file and project, and the proxy's
# files.
task_defaults {
  file      = local.compose
  project   = var.project
  proxy     = var.proxy
  dir       = local.dir
  templates = "../templates"
}

play "bluegreen" {
  roles = ["bluegreen_provision", "bluegreen_deploy", "bluegreen_switchback", "bluegreen_retire", "teardown"]
}

# provision: the db and the live colour (blue at var.version on a fresh
# dir) up, then the proxy on it once every replica of it is healthy. Once
# provisioned it converges what the state files say (a later release goes
# out with -t deploy): a re-run changes nothing.
role "bluegreen_provision" {
  tags = ["provision"]
  include "bluegreen" { vars = { action = "provision" } }
}

# deploy: the idle colour up at var.version beside the live one, then,
# once every replica of it is healthy, the switch to it. If it does not turn
# healthy the proxy is never switched: the live colour keeps serving every
# request, the run fails saying so, and the failed colour is left as it is
# for inspection (-t retire removes it). Deploying the release that is
# already live changes nothing.
role "bluegreen_deploy" {
  tags = ["deploy"]
  include "bluegreen" { vars = { action = "deploy" } }
}

# switchback: the switch back to the idle colour, once each of its replicas
# runs its recorded release and is healthy; refused, with nothing changed,
# when it was retired or never deployed, or does not turn healthy (a failed
# deploy). Running it again switches forth again.
role "bluegreen_switchback" {
  tags = ["never", "switchback"]
  include "bluegreen" { vars = { action = "switchback" } }
}

# retire: the idle colour out of the proxy, stopped and removed, so only
# the live colour runs; switchback is then refused until the next deploy.
role "bluegreen_retire" {
  tags = ["never", "retire"]
  include "bluegreen" { vars = { action = "retire" } }
}

# One run at a time on this deployment (a second one is refused at once,
# naming this one; held until the run ends or its process dies), then the
# action. Every switch first waits until each replica of the colour it goes
# to is healthy (zdplay's gate), and puts every replica of that colour in
# the proxy and every other one out. nginx: one conf
# (templates/nginx.conf.tmpl, replicas by address, the others `down`), one
# reload; it returns once the old workers, which finish the requests in
# flight to the old colour, are gone. haproxy: no reload; over the runtime
# API the colour's replicas go ready (once HAProxy's checks, every 500 ms on
# /ping, see them up), only then the other colour's drain (no new request)
# and go to maint once their sessions are 0 (at most drain_timeout). For
# that moment both colours serve; no client connection is closed.
role "bluegreen" {
  task "lock" "project" {
    path = local.lock
  }

  bluegreen "colours" {
    action  = local.action
    colours = local.services
    release = var.version
    state   = local.dir

    # The compose file of the colours that are to exist, at their releases;
    # it fails before anything changes when an image is missing, the file
    # is invalid or the daemon does not answer.
    render {
      task "template" "compose file" {
        src  = "../templates/bluegreen-compose.yml.tmpl"
        dest = local.compose
        vars = { colours = bluegreen.colours }
      }
      task "compose_check" "images and daemon" {}
    }

    # One colour's replicas (and the db when it does not run): the other
    # colour and the proxy are not touched.
    up {
      task "compose_up" "colour" {
        services = bluegreen.services
      }
    }

    healthy {
      serial "replica" {
        for_each = bluegreen.services

        task "wait_healthy" "healthy" {
          service = each.value
          timeout = var.health_timeout
        }
      }
    }

    observe {
      task "compose_replicas" "colours" {
        services = bluegreen.services
      }
    }

    # HAProxy's haproxy.cfg (slots for both colours, no replica named),
    # reloaded seamlessly only when it changed, or nginx's conf directory;
    # the proxy, started by the first switch (provision's), and again should
    # it have died; then the switch. A replica of the colour that does not
    # run (no address) fails it before anything is drained.
    switch {
      task "proxy" "setup" {
        action = "setup"
      }
      task "compose_up" "proxy" {
        services = ["proxy"]
      }
      task "proxy" "switch" {
        action        = "drain"
        upstream      = bluegreen.upstream
        drain_timeout = var.drain_timeout
      }
    }

    # Nothing reaches the idle colour any more: stop it (SIGTERM, then
    # SIGKILL after stop_timeout seconds) and remove it.
    retire {
      task "compose_remove" "idle colour" {
        services     = bluegreen.services
        grace_period = var.stop_timeout
      }
    }
  }
}
