# bash completion for runts 0.1.0 (made by `deno task docs` from src/cmd/defs.ts)
_runts() {
  local cur prev cmd i opts vals
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD-1]}
  cmd=
  for ((i = 1; i < COMP_CWORD; i++)); do
    case ${COMP_WORDS[i]} in
      --root|--log|--log-format|--platform|--criu|--rootless) ((i++)) ;;
      -*) ;;
      *) cmd=${COMP_WORDS[i]}; break ;;
    esac
  done
  if [[ -z $cmd ]]; then
    if [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W "--root --log --log-format --debug --version -v --systemd-cgroup --platform --criu --rootless --help -h" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "check create debug delete events exec features help kill list pause ps resume run spec start state update wait" -- "$cur"))
    fi
    return
  fi
  case $cmd in
    check)
      opts="--format -f --host-root --help -h"
      vals="--format|-f|--host-root"
      ;;
    create)
      opts="--bundle -b --console-socket --pid-file --no-pivot --no-new-keyring --preserve-fds --help -h"
      vals="--bundle|-b|--console-socket|--pid-file|--preserve-fds"
      ;;
    debug)
      opts="--ps --stacks --guest --count --timeout --memory --help -h"
      vals="--guest|--count|--timeout|--memory"
      ;;
    delete)
      opts="--force -f --help -h"
      vals=""
      ;;
    events)
      opts="--interval --stats --help -h"
      vals="--interval"
      ;;
    exec)
      opts="--console-socket --cwd --env -e --tty -t --user -u --additional-gids -g --process -p --detach -d --pid-file --process-label --apparmor --no-new-privs --cap -c --preserve-fds --cgroup --ignore-paused --help -h"
      vals="--console-socket|--cwd|--env|-e|--user|-u|--additional-gids|-g|--process|-p|--pid-file|--process-label|--apparmor|--cap|-c|--preserve-fds|--cgroup"
      ;;
    features)
      opts="--help -h"
      vals=""
      ;;
    help)
      opts="--help -h"
      vals=""
      ;;
    kill)
      opts="--all -a --help -h"
      vals=""
      ;;
    list)
      opts="--format -f --quiet -q --help -h"
      vals="--format|-f"
      ;;
    pause)
      opts="--help -h"
      vals=""
      ;;
    ps)
      opts="--format -f --help -h"
      vals="--format|-f"
      ;;
    resume)
      opts="--help -h"
      vals=""
      ;;
    run)
      opts="--bundle -b --console-socket --pid-file --no-pivot --no-new-keyring --preserve-fds --detach -d --keep --no-subreaper --help -h"
      vals="--bundle|-b|--console-socket|--pid-file|--preserve-fds"
      ;;
    spec)
      opts="--bundle -b --rootless --help -h"
      vals="--bundle|-b"
      ;;
    start)
      opts="--help -h"
      vals=""
      ;;
    state)
      opts="--help -h"
      vals=""
      ;;
    update)
      opts="--resources -r --blkio-weight --cpu-period --cpu-quota --cpu-burst --cpu-share --cpu-shares --cpu-rt-period --cpu-rt-runtime --cpu-idle --cpuset-cpus --cpuset-mems --kernel-memory --kernel-memory-tcp --memory --memory-reservation --memory-swap --pids-limit --l3-cache-schema --mem-bw-schema --help -h"
      vals="--resources|-r|--blkio-weight|--cpu-period|--cpu-quota|--cpu-burst|--cpu-share|--cpu-shares|--cpu-rt-period|--cpu-rt-runtime|--cpu-idle|--cpuset-cpus|--cpuset-mems|--kernel-memory|--kernel-memory-tcp|--memory|--memory-reservation|--memory-swap|--pids-limit|--l3-cache-schema|--mem-bw-schema"
      ;;
    wait)
      opts="--help -h"
      vals=""
      ;;
    *) return ;;
  esac
  if [[ -n $vals && $prev == @($vals) ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  elif [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  elif [[ $cmd == help ]]; then
    COMPREPLY=($(compgen -W "check create debug delete events exec features help kill list pause ps resume run spec start state update wait" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$(runts list -q 2>/dev/null)" -- "$cur"))
  fi
}
shopt -s extglob
complete -F _runts runts
