# Blue-green (seed 003, issue 5): two colours of the app, blue and green,
# each a set of compose services (blue_1..blue_N, green_1..green_N), the
# same redis db, and a proxy on 127.0.0.1:PORT that serves the live colour
# only. A release goes to the idle colour, beside the live one; once every
# replica of it is healthy, the proxy switches all traffic to it. The old
# colour keeps running, so switching back is one more switch. Its roles are
# the role blocks below (they read this playbook's locals: not modules),
# templates in ../templates.
#
# The switch (role bluegreen_switch), by -e proxy:
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
# State, in files under dir, read back below when the run starts:
#   live-colour           the colour the proxy serves ("blue" or "green"):
#                         written right after the switch to it
#   blue-release,         the release each colour runs (absent: the colour
#   green-release         does not exist); written before the colour is
#                         brought up at it
#   live-release          the live colour's release, for people and scripts
#                         (derived: the playbook reads COLOUR-release)
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
  project   = var.project
  dir       = abspath(var.dir != "" ? var.dir : ".zdplay/${local.project}")
  compose   = "${local.dir}/docker-compose.yml"
  lock      = "${local.dir}/.zdplay.lock"
  live_file = "${local.dir}/live-colour"
  # HAProxy's backend holds both colours: templates/haproxy.cfg.tmpl's slots.
  slots        = 2 * var.replicas
  colour_names = ["blue", "green"]
  # The compose services of each colour.
  services = { for c in local.colour_names : c => [for i in range(var.replicas) : "${c}_${i + 1}"] }

  # The recorded state (see above); a fresh dir means blue at var.version.
  live         = fileexists(local.live_file) ? trimspace(file(local.live_file)) : "blue"
  idle         = local.live == "green" ? "blue" : "green"
  idle_record  = "${local.dir}/${local.idle}-release"
  live_record  = "${local.dir}/${local.live}-release"
  live_release = fileexists(local.live_record) ? trimspace(file(local.live_record)) : var.version
  # "" when the idle colour does not exist (never deployed, or retired).
  idle_release = fileexists(local.idle_record) ? trimspace(file(local.idle_record)) : ""

  # lookup: a live-colour file that names no colour fails in each role's
  # first assert (bluegreen_state), saying so, rather than here.
  idle_services = lookup(local.services, local.idle, [])

  # The colours that exist, colour -> release: what the compose file renders
  # when a role does not bring a colour to a new release.
  existing = merge({ (local.live) = local.live_release }, local.idle_release == "" ? {} : { (local.idle) = local.idle_release })
}

# What the tasks of every role here say: the compose file and project, and
# the proxy's files.
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

# bluegreen provision: render the compose file, bring up the db and the live
# colour (blue at var.version on a fresh dir), then the proxy on it once
# every replica of it is healthy, and record the state. Once provisioned it
# converges what the state files say (a later release goes out with
# -t deploy): a re-run changes nothing.
role "bluegreen_provision" {
  tags = ["provision"]

  include "bluegreen_state" {}

  task "compose_check" "images and daemon" {}

  # The live colour (and the db, its dependency) first; the switch waits
  # until it is healthy, then starts the proxy on it (bluegreen_switch).
  task "compose_up" "live colour" {
    services = local.services[local.live]
  }

  include "bluegreen_switch" {
    vars = { to = local.live, release = local.live_release }
  }
}

# bluegreen deploy: bring the idle colour up at var.version beside the live
# one, wait until every replica of it is healthy, then switch the proxy to
# it (bluegreen_switch) and record it as the live colour. The old colour
# keeps running, for an instant switch back (-t switchback) until it is
# retired (-t retire) or the next deploy goes to it.
#
# If the idle colour does not turn healthy the proxy is never switched: the
# live colour keeps serving every request, and the run fails saying so. The
# failed colour is left as it is, for inspection; -t retire removes it.
#
# Deploying the release that is already live changes nothing.
role "bluegreen_deploy" {
  tags = ["deploy"]

  include "bluegreen_state" {}

  # The proxy on the recorded live colour before the idle one is replaced.
  include "bluegreen_switch" {
    vars = { to = local.live, release = local.live_release }
  }

  block "release to the idle colour" {
    when = var.version != local.live_release

    task "template" "compose file" {
      src  = "../templates/bluegreen-compose.yml.tmpl"
      dest = local.compose
      vars = { colours = merge(local.existing, { (local.idle) = var.version }) }
    }

    # Fails before anything changes when an image is missing, the rendered
    # file is invalid or the daemon does not answer.
    task "compose_check" "images and daemon" {}

    task "template" "record the idle colour's release" {
      src  = "../templates/bluegreen-value.tmpl"
      dest = local.idle_record
      vars = { value = var.version }
    }

    block "idle colour" {
      # Only the idle colour's services (and the db when it does not run):
      # the live colour and the proxy are not touched.
      task "compose_up" "idle colour" {
        services = local.idle_services
      }

      include "healthy" {
        vars = { waiting_for = local.idle_services }
      }

      rescue {
        task "fail" "not switched" {
          msg = "release ${var.version} did not turn healthy on ${local.idle} (see the failed task above): the proxy was not switched, ${local.live} (${local.live_release}) still serves every request; ${local.idle} is left as it is for inspection, -t retire removes it"
        }
      }
    }

    # Its gate passes at once: the idle colour was just seen healthy.
    include "bluegreen_switch" {
      vars = { to = local.idle, release = var.version }
    }
  }
}

# bluegreen switchback: switch the proxy back to the other (idle) colour
# (bluegreen_switch), once each of its replicas is checked: it runs the
# recorded release and is healthy. Refused, with nothing changed, when the
# idle colour was retired or never deployed, or does not turn healthy (a
# failed deploy). Tagged never: -t switchback. Running it again switches
# forth again.
role "bluegreen_switchback" {
  tags = ["never", "switchback"]

  include "bluegreen_state" {}

  task "assert" "idle colour exists" {
    that     = [local.idle_release != ""]
    fail_msg = "there is no colour to switch back to: ${local.idle} was never deployed or was retired (${local.idle_record} is absent); ${local.live} (${local.live_release}) stays live"
  }

  task "compose_outdated" "as recorded" {
    services = local.idle_services
    register = "stale"
  }
  task "assert" "as recorded" {
    that     = [length(stale.outputs.outdated) == 0]
    fail_msg = "${local.idle} does not run its recorded release ${local.idle_release} (${join("; ", stale.outputs.reasons)}): not switched, ${local.live} (${local.live_release}) stays live"
  }

  include "bluegreen_switch" {
    vars = { to = local.idle, release = local.idle_release }
  }
}

# bluegreen retire: remove the idle colour's containers (after a deploy: the
# previous release; after a failed deploy: the release that did not turn
# healthy), so that only the live colour runs; switchback is then refused
# until the next deploy. Tagged never: -t retire.
role "bluegreen_retire" {
  tags = ["never", "retire"]

  include "bluegreen_state" {}

  # The proxy on the recorded live colour (with HAProxy: the idle colour's
  # slots drained and in maint) before the idle colour is stopped.
  include "bluegreen_switch" {
    vars = { to = local.live, release = local.live_release }
  }

  # Nothing reaches them any more: stop them (SIGTERM, then SIGKILL after
  # stop_timeout seconds) and remove them.
  task "compose_remove" "idle colour" {
    services     = local.idle_services
    grace_period = var.stop_timeout
  }

  task "file" "idle colour's release record" {
    path  = local.idle_record
    state = "absent"
  }

  task "template" "compose file" {
    src  = "../templates/bluegreen-compose.yml.tmpl"
    dest = local.compose
    vars = { colours = { (local.live) = local.live_release } }
  }

  # Once it is gone, the proxy forgets it (nginx's conf listed it as down;
  # HAProxy's slots held it in maint): a retire re-run changes nothing.
  include "bluegreen_switch" {
    vars = { to = local.live, release = local.live_release, existing = { (local.live) = local.live_release } }
  }
}

# bluegreen_state: first in every bluegreen role. One run at a time on this
# deployment (a second one is refused at once, naming this one; held until
# the run ends or its process dies); nothing is touched unless the recorded
# state makes sense (-e proxy is checked before the run: the proxy kind's);
# then the compose file of the recorded state
# (the colours that exist, at their releases), which the role changes only
# to add or remove a colour.
role "bluegreen_state" {
  task "lock" "project" {
    path = local.lock
  }

  task "assert" "state" {
    that     = [contains(local.colour_names, local.live)]
    fail_msg = "${local.live_file} says the live colour is \"${local.live}\", not blue or green: fix or remove it"
  }

  task "template" "compose file" {
    src  = "../templates/bluegreen-compose.yml.tmpl"
    dest = local.compose
    vars = { colours = local.existing }
  }
}

# bluegreen_switch: send every request to colour `to` once each of its
# replicas is healthy (zdplay's gate), then record it as the live colour.
# Included with the live colour first by provision, deploy and retire (a
# no-op, unless an earlier run was interrupted between its switch and its
# record: then traffic goes back to the recorded colour, which that run left
# running, before the other colour is replaced or removed), and with the
# idle colour by deploy and switchback:
#
#   to       the colour to serve
#   release  the release it runs
#
# The proxy kind does the switch, whichever proxy -e proxy names: every
# replica of `to` in, every other running replica out. nginx: one conf
# (templates/nginx.conf.tmpl, replicas by address, the others `down`), one
# reload; it returns once the old workers, which finish the requests in
# flight to the old colour, are gone. haproxy: no reload; over the runtime
# API `to`'s replicas go ready (it returns once HAProxy's checks, every
# 500 ms on /ping, see them up), only then the other colour's drain (no new
# request) and go to maint once their sessions are 0 (at most
# drain_timeout). For that moment both colours serve; no client connection
# is closed.
role "bluegreen_switch" {
  include "healthy" {
    vars = { waiting_for = local.services[local.to] }
  }

  # HAProxy's haproxy.cfg (slots for both colours, no replica named): reloaded
  # seamlessly only when it changed; nginx's conf directory. Then the proxy,
  # which reads them when it starts (HAProxy's runtime API's socket dir too),
  # serving nothing until the switch puts a colour in: started by the first
  # switch (provision's), and again should it have died.
  task "proxy" "setup" {
    action = "setup"
  }
  task "compose_up" "proxy" {
    services = ["proxy"]
  }

  # The replicas of every colour that exists (and of `to`) that run, with
  # their addresses. Each replica of `to` is listed, running or not: one that
  # does not run (no address) fails the switch before anything is drained.
  task "compose_replicas" "colours" {
    services = flatten([for c in distinct(concat([local.to], keys(local.existing))) : local.services[c]])
    register = "colours"
  }
  task "proxy" "switch" {
    action = "drain"
    upstream = [for s in distinct(concat(local.services[local.to], keys(colours.outputs.addresses))) : {
      name = s, address = lookup(colours.outputs.addresses, s, ""), down = !contains(local.services[local.to], s)
    }]
    drain_timeout = var.drain_timeout
  }

  block "record" {
    for_each = { "live-colour" = local.to, "live-release" = local.release, "${local.to}-release" = local.release }

    task "template" "record" {
      src  = "../templates/bluegreen-value.tmpl"
      dest = "${local.dir}/${each.key}"
      vars = { value = each.value }
    }
  }
}

# healthy: wait until each service of local.waiting_for is healthy, one
# after the other. Included by bluegreen_switch (its gate),
# bluegreen_provision and bluegreen_deploy, with:
#
#   waiting_for  the services, e.g. local.services
role "healthy" {
  serial "replica" {
    for_each = local.waiting_for

    task "wait_healthy" "healthy" {
      service = each.value
      timeout = var.health_timeout
    }
  }
}
