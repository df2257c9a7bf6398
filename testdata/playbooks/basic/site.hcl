# A playbook with no Docker: render files, loop, tags, handlers, registers.
variable "dir" {
  description = "where rendered files go"
}
variable "replicas" {
  type    = number
  default = 2
}
variable "greeting" { default = "hello" }

locals {
  names = [for i in range(var.replicas) : "app_${i + 1}"]
  conf  = "${var.dir}/conf"
}

play "site" {
  roles = ["render", "extra"]
}

role "render" {
  tags = ["render"]

  task "file" "conf dir" {
    path  = local.conf
    state = "directory"
  }

  task "template" "main conf" {
    src    = "templates/main.conf.tmpl"
    dest   = "${local.conf}/main.conf"
    notify = ["announce"]
  }

  serial "replica" {
    for_each = local.names

    task "template" "replica conf" {
      src      = "templates/replica.conf.tmpl"
      dest     = "${local.conf}/${each.value}.conf"
      vars     = { name = each.value, index = each.key }
      register = "replica"
    }

    task "assert" "rendered" {
      that = [!replica.failed]
    }
  }

  handler "command" "announce" {
    argv = ["sh", "-c", "echo changed >> announce.log"]
    chdir = var.dir
  }
}
