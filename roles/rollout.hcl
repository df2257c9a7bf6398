# rollout: bring every replica to the release the compose file names, batch
# by batch, so that the others keep serving; replicas already at it are not
# touched. Included by upgrade and rollback, with these vars:
#
#   rolling_to         the release the compose file was rendered at
#   batches            the replicas in batches, e.g. chunklist(local.services, 2)
#   delay              the wait between two batches, e.g. "0s"
#   monitor            how long a new replica must stay healthy, e.g. "0s"
#   failure_action     "rollback", "pause" or "continue"
#   max_failure_ratio  the share of the replicas that may fail, e.g. 0.25
#   fallback           the release a failed rollout returns to
#   surge              start-first's surge services, e.g. ["surge_1"]; []
#                      for stop-first
#
# If a batch does not turn healthy, it goes back to the fallback release
# and the rollout goes on with the next batch while the failed replicas are
# within max_failure_ratio of all (Swarm's update max_failure_ratio; with
# "continue", always); the run then fails at the end, naming them. Past the
# ratio: with "rollback", every replica goes back to the fallback release
# the same way, and the run fails saying so; with "pause", the batch stays
# drained, the others serve, and the run fails saying how to go on.
#
# With a surge (start-first), it first starts the surge replicas at the
# release and puts them in service, so that capacity never drops while a
# batch is drained; they go when every replica runs the release. A surge
# that does not turn healthy fails the run before any replica is touched.

block "surge" {
  when = length(local.surge) > 0

  task "compose_outdated" "any replica outdated" {
    file     = local.compose
    project  = var.project
    services = flatten(local.batches)
    register = "pending"
  }

  block "start" {
    when = pending.changed

    task "template" "compose file with the surge" {
      src  = "../templates/docker-compose.yml.tmpl"
      dest = local.compose
    }
    task "compose_up" "surge" {
      file     = local.compose
      project  = var.project
      services = local.surge
    }
    block "healthy" {
      for_each = local.surge
      parallel = true

      task "wait_healthy" "surge healthy" {
        file    = local.compose
        project = var.project
        service = each.value
        timeout = var.health_timeout
        monitor = local.monitor
      }
    }
    task "template" "surge in service" {
      src  = "../templates/nginx.conf.tmpl"
      dest = local.conf
      vars = { down = [] }
    }
    task "proxy_reload" "surge in service" {
      file             = local.compose
      project          = var.project
      conf             = local.conf
      wait_old_workers = false
    }
  }

  rescue {
    include "in_service" {}
    include "retire_surge" {
      vars = { rendered_at = local.fallback }
    }
    task "assert" "surge failed" {
      that     = [false]
      fail_msg = "release ${local.rolling_to} did not turn healthy on ${join(", ", local.surge)}: no replica was touched, every one still runs ${local.fallback}; ${failure.task} failed:\n  ${indent(2, failure.error)}"
    }
  }
}

serial "batch" {
  for_each          = local.batches
  pause             = local.delay
  max_failure_ratio = local.failure_action == "continue" ? 1 : local.max_failure_ratio

  # Replicas of the batch already at the release must be healthy before
  # anything else is drained: an interrupted run may have left one drained
  # and still booting, and the next drain or the final render puts it back
  # in service. A no-op wait of ~200 ms on a converged deployment.
  block "in service" {
    for_each = each.value
    parallel = true

    task "compose_outdated" "current" {
      file     = local.compose
      project  = var.project
      service  = each.value
      register = "current"
    }
    task "wait_healthy" "in service" {
      when    = !current.changed
      file    = local.compose
      project = var.project
      service = each.value
      timeout = var.health_timeout
    }
  }

  task "compose_outdated" "outdated" {
    file     = local.compose
    project  = var.project
    services = each.value
    register = "outdated"
  }

  block "replace" {
    when = outdated.changed

    include "replace" {
      vars = { batch = each.value, down = each.value, after = [], monitor = local.monitor }
    }
  }

  rescue {
    task "assert" "paused" {
      when     = local.failure_action == "pause" && !failure.tolerated
      that     = [false]
      fail_msg = "paused: release ${local.rolling_to} failed on ${join(", ", each.value)}, which stays drained while the other replicas serve; run the upgrade again with a fixed release to go on, or with -e version=${local.fallback} to go back; ${failure.task} failed:\n  ${indent(2, failure.error)}"
    }

    task "template" "compose file at the fallback release" {
      src  = "../templates/docker-compose.yml.tmpl"
      dest = local.compose
      vars = { version = local.fallback }
    }

    # The failed batch first, one replica at a time: it is drained already,
    # and its members not yet restored stay drained while the others serve.
    # Then, unless the failure is tolerated, every other replica the run
    # changed.
    serial "restore" {
      for_each = concat(
        [for j, s in each.value : { service = s, down = slice(each.value, j, length(each.value)), after = slice(each.value, j + 1, length(each.value)) }],
        [for s in flatten(local.batches) : { service = s, down = [s], after = [] } if !contains(each.value, s) && !failure.tolerated],
      )

      task "compose_outdated" "outdated" {
        file     = local.compose
        project  = var.project
        service  = each.value.service
        register = "diverged"
      }

      block "restore" {
        when = diverged.changed

        include "replace" {
          vars = { batch = [each.value.service], down = each.value.down, after = each.value.after, monitor = "0s" }
        }
      }
    }

    # Tolerated: the next batches go on to the release; the run fails at
    # the end.
    task "template" "compose file at the release" {
      when     = failure.tolerated
      src      = "../templates/docker-compose.yml.tmpl"
      dest     = local.compose
      register = "tolerated"
    }

    block "rolled back" {
      when = !failure.tolerated

      # A member of the failed batch that was never recreated is still at
      # the fallback release: back in service too. A surge goes.
      include "in_service" {}
      include "retire_surge" {
        vars = { rendered_at = local.fallback }
      }

      task "assert" "rolled back" {
        that     = [false]
        fail_msg = "release ${local.rolling_to} did not turn healthy: every replica was rolled back to ${local.fallback}; ${failure.task} failed:\n  ${indent(2, failure.error)}"
      }
    }
  }
}

# Every replica in service and no surge: a no-op after a clean stop-first
# rollout, and what brings the proxy and the stack back in line when an
# earlier run was interrupted mid-way.
include "in_service" {}
include "retire_surge" {
  vars = { rendered_at = local.rolling_to }
}

# Failures tolerated by max_failure_ratio fail the run now, naming the
# replicas that went back (a re-run tries them again).
task "compose_outdated" "failed replicas" {
  when     = !tolerated.skipped
  file     = local.compose
  project  = var.project
  services = flatten(local.batches)
  register = "left"
}
task "assert" "every replica at the release" {
  when     = !tolerated.skipped
  that     = [!left.changed]
  fail_msg = "release ${local.rolling_to} failed on some replicas, tolerated (max_failure_ratio ${local.max_failure_ratio}, failure_action ${local.failure_action}): they went back to ${local.fallback} and serve, the others run ${local.rolling_to}: ${left.msg}; run again to retry them"
}
