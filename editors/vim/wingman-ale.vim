" Wingman through ALE (Vim 9 or Neovim, ALE 3.3+): hints as ALE diagnostics, completions in
" ALE's completion menu (the server's completion.fallback = "on"), code actions on :ALECodeAction.
" Load it after ALE (packadd ale); set g:ale_completion_enabled = 1 before ALE loads.
let g:wingman_command = get(g:, 'wingman_command', 'wingman serve')
let g:wingman_options = get(g:, 'wingman_options', {'completion': {'fallback': 'on'}})

function! WingmanRoot(buffer) abort
  let l:dir = fnamemodify(bufname(a:buffer), ':p:h')
  let l:git = finddir('.git', l:dir . ';')
  return empty(l:git) ? l:dir : fnamemodify(l:git, ':p:h:h')
endfunction

for s:ft in ['python', 'javascript', 'typescript', 'java', 'cpp', 'c', 'go', 'rust']
  call ale#linter#Define(s:ft, {
  \   'name': 'wingman',
  \   'lsp': 'stdio',
  \   'executable': {b -> split(g:wingman_command)[0]},
  \   'command': {b -> g:wingman_command},
  \   'project_root': function('WingmanRoot'),
  \   'initialization_options': {b -> g:wingman_options},
  \})
endfor

" ALE runs only a few linters by default for Python, Go and Rust: add wingman to those lists.
let g:ale_linters = get(g:, 'ale_linters', {})
for [s:ft, s:defaults] in items({'python': ['flake8', 'mypy', 'pylint', 'pyright', 'ruff'],
\                                'go': ['gofmt', 'golint', 'gopls', 'govet'], 'rust': ['cargo', 'rls']})
  let s:current = get(g:ale_linters, s:ft, s:defaults)
  if type(s:current) == v:t_list && index(s:current, 'wingman') < 0
    let g:ale_linters[s:ft] = s:current + ['wingman']
  endif
endfor
