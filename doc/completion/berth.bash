# bash completion for berth.
#
# The commands, subcommands and options come from the binary's own --help, so that the
# completion cannot drift from it; container, image, layer and volume names from berth's lists.

# _berth_help ARGS...: berth ARGS --help, with the global options of the command line.
_berth_help() {
    "$_berth_bin" "${_berth_global[@]}" "$@" --help 2>/dev/null
}

# Option names of a --help text; with "arg", those taking an argument, each with the name of
# its argument ("-f FORMAT", "--format FORMAT").
_berth_options() {
    grep -E '^ {2,6}-' | sed -E 's/^ +//; s/  .*//' |
        awk -v arg="${1:-}" '{
            n = split($0, opt, /, */); meta = ""
            for (i = 1; i <= n; i++) if (match(opt[i], /=/)) meta = substr(opt[i], RSTART + 1)
            gsub(/[][]/, "", meta)
            for (i = 1; i <= n; i++) {
                sub(/\[?=.*/, "", opt[i])
                if (arg == "") print opt[i]; else if (meta != "") print opt[i], meta
            }
        }'
}

# The argument of option $1 of a help text on stdin: its metavariable (DIR, FILE, FORMAT...).
_berth_metavar() {
    _berth_options arg | awk -v o="$1" '$1 == o { print $2; exit }'
}

_berth_complete_value() { # METAVAR CMD
    case $1 in
    DIR | FILE | SOCKET | PATH)
        if [ "$1" = DIR ]; then
            COMPREPLY=($(compgen -d -- "$cur"))
        else
            COMPREPLY=($(compgen -f -- "$cur"))
        fi
        compopt -o filenames 2>/dev/null
        ;;
    FORMAT)
        case $2 in
        list | ps) COMPREPLY=($(compgen -W "table json" -- "$cur")) ;;
        *) COMPREPLY=($(compgen -W "text json" -- "$cur")) ;;
        esac
        ;;
    MANAGER) COMPREPLY=($(compgen -W "cgroupfs systemd disabled" -- "$cur")) ;;
    VALUE) COMPREPLY=($(compgen -W "true false auto" -- "$cur")) ;;
    LEVEL) COMPREPLY=($(compgen -W "error warning info debug" -- "$cur")) ;;
    REF) COMPREPLY=($(compgen -W "$("$_berth_bin" "${_berth_global[@]}" image ls -q 2>/dev/null)" -- "$cur")) ;;
    *) COMPREPLY=() ;;
    esac
}

_berth() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local _berth_bin=${COMP_WORDS[0]}
    local -a _berth_global=()
    local i w cmd="" sub="" cmd_at=0 top_help
    top_help=$("$_berth_bin" --help 2>/dev/null)
    local global_arg_opts
    global_arg_opts=$(echo "$top_help" | _berth_options arg | awk '{ print $1 }')

    # The command is the first word that is neither a global option nor its argument.
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        case $w in
        --root=* | --storage-root=*) _berth_global+=("$w") ;;
        -*)
            if grep -qx -- "$w" <<<"$global_arg_opts"; then
                case $w in --root | --storage-root) _berth_global+=("$w" "${COMP_WORDS[i + 1]}") ;; esac
                i=$((i + 1))
            fi
            ;;
        *)
            cmd=$w
            cmd_at=$i
            break
            ;;
        esac
    done

    if [ -z "$cmd" ]; then
        local meta
        meta=$(echo "$top_help" | _berth_metavar "$prev")
        if [ -n "$meta" ]; then
            _berth_complete_value "$meta" ""
        elif [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$(echo "$top_help" | _berth_options)" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$(echo "$top_help" | sed -n '/^Commands:/,$p' |
                awk 'NR > 1 && NF { print $1 }')" -- "$cur"))
        fi
        return
    fi

    # container, image, layer, label and volume take a subcommand first.
    local -a path=("$cmd")
    case $cmd in
    container | image | layer | label | volume)
        for ((i = cmd_at + 1; i < COMP_CWORD; i++)); do
            case ${COMP_WORDS[i]} in -*) ;; *)
                sub=${COMP_WORDS[i]}
                break
                ;;
            esac
        done
        if [ -z "$sub" ]; then
            COMPREPLY=($(compgen -W "$(_berth_help "$cmd" | grep -oE "^(Usage:)? +(berth $cmd )?[a-z]+" |
                awk '$NF != "berth" { print $NF }')" -- "$cur"))
            return
        fi
        path+=("$sub")
        ;;
    esac

    local help meta
    help=$(_berth_help "${path[@]}")
    meta=$(echo "$help" | _berth_metavar "$prev")
    if [ -n "$meta" ]; then
        _berth_complete_value "$meta" "$cmd"
        return
    fi
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(echo "$help" | _berth_options)" -- "$cur"))
        return
    fi

    # Operands: the names the command acts on.
    local names=""
    case $cmd in
    start | state | kill | delete | pause | resume | ps | exec | update | events)
        names=$("$_berth_bin" "${_berth_global[@]}" list -q 2>/dev/null)
        if [ "$cmd" = kill ] && [ "$prev" != kill ] && [[ $prev != -* ]]; then
            names=$(kill -l | tr -s ' \t' '\n' | grep -E '^SIG' | sed 's/^SIG//')
        fi
        ;;
    container)
        case $sub in start | stop | exec | rm | logs) names=$("$_berth_bin" "${_berth_global[@]}" container ls -q 2>/dev/null) ;; esac
        ;;
    volume)
        [ "$sub" = rm ] && names=$("$_berth_bin" "${_berth_global[@]}" volume ls -q 2>/dev/null)
        ;;
    image)
        [ "$sub" = rm ] && names=$("$_berth_bin" "${_berth_global[@]}" image ls -q 2>/dev/null)
        if [ "$sub" = import ]; then
            COMPREPLY=($(compgen -f -- "$cur"))
            compopt -o filenames 2>/dev/null
            return
        fi
        ;;
    layer)
        case $sub in rm | path | exists) names=$("$_berth_bin" "${_berth_global[@]}" layer ls -q 2>/dev/null) ;; esac
        ;;
    esac
    COMPREPLY=($(compgen -W "$names" -- "$cur"))
}

complete -F _berth berth
