-- The site policy many clusters enforce: GPUs only in partition gpu, and partition gpu only for GPU jobs.
local function gpu_request(job_desc)
  for _, field in ipairs({"tres_per_job", "tres_per_node", "tres_per_task", "tres_per_socket"}) do
    local value = job_desc[field]
    if value ~= nil and string.find(value, "gpu") then
      return value
    end
  end
  return nil
end

function slurm_job_submit(job_desc, part_list, submit_uid)
  local partition = job_desc.partition or "cpu"
  local gpus = gpu_request(job_desc)
  if gpus ~= nil and partition ~= "gpu" then
    slurm.log_user("GPUs are only available in partition gpu (asked for " .. gpus .. " in " .. partition .. ")")
    return slurm.ERROR
  end
  if gpus == nil and partition == "gpu" then
    slurm.log_user("partition gpu is for jobs that ask for a GPU; submit CPU jobs to partition cpu")
    return slurm.ERROR
  end
  return slurm.SUCCESS
end

function slurm_job_modify(job_desc, job_rec, part_list, modify_uid)
  return slurm.SUCCESS
end
